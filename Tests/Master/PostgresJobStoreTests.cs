using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Tests.Fixtures;
using Npgsql;

namespace DistributedExecutor.Tests.Master;

/// <summary>
/// The store in PostgreSQL (a private server, a database per test): the contract, and what only a shared store has —
/// two masters' stores on one database at once, its schema version, its URL.
/// </summary>
public sealed class PostgresJobStoreTests : JobStoreContractTests, IAsyncLifetime
{
    private string _url = "";

    public async Task InitializeAsync() => _url = await (await PostgresServer.Shared).NewDatabaseUrlAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private protected override SqlJobStore Open() => Open(new JobSignals());

    private SqlJobStore Open(JobSignals signals) => new(new MasterOptions { DatabaseUrl = _url }, TimeProvider.System, signals);

    [Fact]
    public void Open_StoreFromANewerMaster_RefusedWithOneLine()
    {
        using (var store = Open())
        {
            CreateJob(store);
        }

        Execute($"INSERT INTO schema_version(version) VALUES({PostgresMigrations.Latest + 1})");

        var refused = Assert.Throws<StoreVersionException>(Open);
        Assert.Contains($"has schema version {PostgresMigrations.Latest + 1}, newer than this master knows ({PostgresMigrations.Latest})", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("password", refused.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task TwoMasters_OneDatabase_AdmissionCountsBothAndEveryEventIsAppliedOnce()
    {
        // Two stores on one database, as two masters: each admits against the jobs of both.
        using var a = Open();
        using var b = Open();
        var jobs = Enumerable.Range(0, 6).Select(_ => (Job: Guid.NewGuid(), Task: Guid.NewGuid())).ToList();
        var admitted = await Task.WhenAll(jobs.Select((j, i) => (i % 2 == 0 ? a : b).CreateJobAsync(j.Job, "default",
            [(j.Task, new TaskSpec { Command = new CommandSpec { Program = "true" } })], activeLimit: 4)));
        Assert.Equal(4, admitted.Count(job => job is not null));

        // Every event of every admitted job, each delivered to both masters at once (a redelivery racing the first).
        var kept = jobs.Where((_, i) => admitted[i] is not null).ToList();
        foreach (var (job, _) in kept)
        {
            await a.MarkPublishedAsync(job);
        }

        await Task.WhenAll(kept.SelectMany(k =>
        {
            var attempt = Guid.NewGuid();
            var started = new TaskStarted(k.Job, k.Task, attempt, "w1", 1, DateTimeOffset.UtcNow);
            var output = new TaskOutput(k.Job, k.Task, attempt, 0, [new OutputChunkData(OutputStreamKind.Stdout, "once\n"u8.ToArray())]);
            var finished = new TaskFinished(k.Job, k.Task, attempt, "w1", TaskOutcome.Succeeded, 0, null, null, false, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow)
                with { Output = output, OutputBatches = 1 };
            return new[] { a, b }.Select(store => Task.Run(async () =>
            {
                await store.ApplyStartedAsync(started);
                await store.ApplyFinishedAsync(finished);
            }));
        }));

        foreach (var (job, _) in kept)
        {
            var record = b.GetJob(job, withTasks: true)!;
            Assert.Equal(TaskState.Succeeded, record.State);
            Assert.Single(Assert.Single(record.Tasks).Attempts);
            Assert.Equal("once\n", string.Concat(a.ReadOutput(job, 0, 10).Select(c => c.Data.ToStringUtf8())));
        }

        // Both see the jobs ended, so both admit again.
        Assert.NotNull(await a.CreateJobAsync(Guid.NewGuid(), "default", [(Guid.NewGuid(), new TaskSpec { Command = new CommandSpec { Program = "true" } })], activeLimit: 1));
        Assert.Null(await b.CreateJobAsync(Guid.NewGuid(), "default", [(Guid.NewGuid(), new TaskSpec { Command = new CommandSpec { Program = "true" } })], activeLimit: 1));
    }

    [Fact]
    public async Task IdempotencyKey_SubmittedToTwoMasters_OneJob()
    {
        using var a = Open();
        using var b = Open();
        var spec = new TaskSpec { Command = new CommandSpec { Program = "true" } };
        var first = a.CreateJobAsync(Guid.NewGuid(), "default", [(Guid.NewGuid(), spec)], idempotencyKey: "nightly-1");
        var second = b.CreateJobAsync(Guid.NewGuid(), "default", [(Guid.NewGuid(), spec)], idempotencyKey: "nightly-1");
        var outcomes = await Task.WhenAll(Outcome(first), Outcome(second));

        Assert.Equal(1, outcomes.Count(o => o == "stored"));
        Assert.Equal(1, outcomes.Count(o => o == "duplicate"));
    }

    [Fact]
    public async Task Lease_HeldByOneMaster_TakenByTheOtherOnceItExpires_AndWhatTheGoneOneLeftUnpublishedIsFound()
    {
        using var a = Open();
        using var b = Open();
        // Leases that must still hold when checked last a minute (a loaded machine once took over half a second
        // between two steps); only a's last renewal is short, so that it dies.
        var held = TimeSpan.FromMinutes(1);
        var ttl = TimeSpan.FromMilliseconds(500);
        Assert.True(a.HoldLease("duties", held));
        Assert.False(b.HoldLease("duties", held));
        Assert.True(a.HoldLease("duties", held));

        // a stored a job and died before publishing it: nothing is b's to publish while a's own lease lives.
        var job = Guid.NewGuid();
        var task = Guid.NewGuid();
        await a.CreateJobAsync(job, "default", [(task, new TaskSpec { Command = new CommandSpec { Program = "true" } })]);
        Assert.Empty(b.TasksOfGoneMasters());
        Assert.True(a.HoldLease("duties", ttl));

        await Eventually.Until(() => b.HoldLease("duties", held), TimeSpan.FromSeconds(10), "b taking the expired lease");
        var left = Assert.Single(b.TasksOfGoneMasters());
        Assert.Equal((job, task), (left.JobId, left.TaskId));

        // a comes back (a pause, not a death): the lease stays b's, and a's job is a's own to publish again.
        Assert.False(a.HoldLease("duties", held));
        Assert.Empty(b.TasksOfGoneMasters());
    }

    [Fact]
    public async Task Change_StoredByOneMaster_WakesTheOthersWatchers()
    {
        var signalsA = new JobSignals();
        var signalsB = new JobSignals();
        using var a = Open(signalsA);
        using var b = Open(signalsB);
        CreateJob(a);

        var change = signalsB.NextChange(_jobId);
        await a.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, Guid.NewGuid(), "w1", 1, DateTimeOffset.UtcNow));

        Assert.Same(change, await Task.WhenAny(change, Task.Delay(TimeSpan.FromSeconds(10))));
        Assert.Equal(TaskState.Running, b.GetJob(_jobId, withTasks: false)!.State);

        // The server drops every connection (b's listening one too): b's watchers are woken once b listens again,
        // and a's next change reaches them.
        var afterDrop = signalsB.NextChange(_jobId);
        Execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
        Assert.Same(afterDrop, await Task.WhenAny(afterDrop, Task.Delay(TimeSpan.FromSeconds(10))));
        var finished = signalsB.NextChange(_jobId);
        await Eventually.Until(async () =>
        {
            await a.ApplyFinishedAsync(Finished(Guid.NewGuid(), TaskOutcome.Succeeded, 0));
            return true;
        }, ok => ok, TimeSpan.FromSeconds(10), "a write on a after the server dropped its connections");
        Assert.Same(finished, await Task.WhenAny(finished, Task.Delay(TimeSpan.FromSeconds(10))));
    }

    [Fact]
    public void Workers_HeardByOneMaster_ListedByTheOther()
    {
        using var a = Open();
        using var b = Open();
        var registration = new RegisterWorkerRequest { WorkerId = "w1", Pool = "default", Capacity = 4, InstanceId = "i1" };
        var now = DateTimeOffset.UtcNow;
        a.ExchangeWorkers([new SharedWorker("w1", Google.Protobuf.MessageExtensions.ToByteArray(registration), now.ToUnixTimeMilliseconds(), now.ToUnixTimeMilliseconds(), 2, false)], now.AddMinutes(-1));

        // An older heartbeat heard by b does not overwrite the newer one.
        b.ExchangeWorkers([new SharedWorker("w1", Google.Protobuf.MessageExtensions.ToByteArray(registration), now.ToUnixTimeMilliseconds(), now.AddSeconds(-5).ToUnixTimeMilliseconds(), 0, false)], now.AddMinutes(-1));
        var seen = Assert.Single(b.ExchangeWorkers([], now.AddMinutes(-1)));
        Assert.Equal(("w1", 2, now.ToUnixTimeMilliseconds()), (seen.WorkerId, seen.Running, seen.LastHeartbeat));
        Assert.Equal(4, RegisterWorkerRequest.Parser.ParseFrom(seen.Registration).Capacity);
    }

    [Fact]
    public async Task Connections_DroppedByTheServer_WritesGoOnOnANewOne()
    {
        using var store = Open();
        CreateJob(store);

        // The server ends every session of this database (a restart, a failover, an operator's pg_terminate_backend).
        Execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");

        // The write that finds its connection gone fails (the broker redelivers its event); the next is applied.
        var attempt = Guid.NewGuid();
        var started = new TaskStarted(_jobId, _taskId, attempt, "w1", 1, DateTimeOffset.UtcNow);
        await Eventually.Until(async () =>
        {
            await store.ApplyStartedAsync(started);
            return true;
        }, ok => ok, TimeSpan.FromSeconds(10), "a write after the server dropped the connections");
        Assert.Equal(TaskState.Running, store.GetJob(_jobId, withTasks: false)!.State);
    }

    [Fact]
    public void History_TwoMasters_TheTasksThatEndedOnEachAddUpInOneRowPerInterval()
    {
        using var a = Open();
        using var b = Open();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.Parse("2026-11-28T10:00:30Z", System.Globalization.CultureInfo.InvariantCulture));
        var options = new MasterOptions { HistoryIntervalSeconds = 60 };
        using var endedOnA = new DistributedExecutor.Hosting.Telemetry.DistexecMetrics();
        using var endedOnB = new DistributedExecutor.Hosting.Telemetry.DistexecMetrics();
        foreach (var (metrics, outcome) in new[] { (endedOnA, "Succeeded"), (endedOnA, "Succeeded"), (endedOnB, "Succeeded"), (endedOnB, "Failed"), (endedOnB, "Succeeded") })
        {
            metrics.RecordFinished(outcome, TimeSpan.FromSeconds(1));
        }

        // a holds the duties (no lease given: a master alone); b does not.
        using var holder = new HistoryRecorder(a, endedOnA, new DistributedExecutor.Master.Workers.WorkerRegistry(options, time), options, time,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<HistoryRecorder>.Instance);
        using var other = new HistoryRecorder(b, endedOnB, new DistributedExecutor.Master.Workers.WorkerRegistry(options, time), options, time,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<HistoryRecorder>.Instance,
            new DutyLease(b, time, Microsoft.Extensions.Logging.Abstractions.NullLogger<DutyLease>.Instance));
        holder.RecordNow();
        time.Advance(TimeSpan.FromSeconds(20));
        other.RecordNow();

        var ended = Assert.Single(b.ReadHistory(time.GetUtcNow().AddHours(-1)), p => p.Pool.Length == 0);
        Assert.Equal((4L, 1L), (ended.Succeeded, ended.Failed));
        Assert.Equal(DateTimeOffset.Parse("2026-11-28T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture), ended.At.ToDateTimeOffset());
    }

    [Theory]
    [InlineData("postgresql://h/db", "Host=h;Port=5432;Database=db")]
    [InlineData("postgres://u:p%40ss@h:6543/d%20b?sslmode=require", "Host=h;Port=6543;Database=d b;Username=u;Password=p@ss;SSL Mode=Require")]
    public void ConnectionString_FromAUrl(string url, string expected)
    {
        var actual = new NpgsqlConnectionStringBuilder(PostgresBackend.ConnectionString(url));
        foreach (var pair in expected.Split(';'))
        {
            var (key, value) = (pair[..pair.IndexOf('=', StringComparison.Ordinal)], pair[(pair.IndexOf('=', StringComparison.Ordinal) + 1)..]);
            Assert.Equal(value, actual[key]?.ToString());
        }
    }

    [Theory]
    [InlineData("mysql://u:secret@h/db")]
    [InlineData("postgres:///db")]
    [InlineData("not a url secret")]
    [InlineData("postgres://u:secret@h/db?nosuchoption=1")]
    public void ConnectionString_NotAPostgresUrl_ClearErrorWithoutThePassword(string url)
    {
        var error = Assert.Throws<FormatException>(() => PostgresBackend.ConnectionString(url));
        Assert.Contains("MASTER_DB_URL", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    private void Execute(string sql)
    {
        using var db = new NpgsqlConnection(PostgresServer.ConnectionString(new Uri(_url)));
        db.Open();
        using var command = new NpgsqlCommand(sql, db);
        command.ExecuteNonQuery();
    }
}
