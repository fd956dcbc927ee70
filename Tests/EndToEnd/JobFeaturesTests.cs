using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>Retries, idempotency keys, batches, labels and retention on a real master, workers and RabbitMQ.</summary>
[Trait("Category", "EndToEnd")]
public sealed class JobFeaturesTests
{
    [Fact]
    public async Task Retries_FailingThenSucceeding_RunsAgainAfterTheBackoffAndRecordsTheCause()
    {
        await using var cluster = await Cluster.StartAsync(1);
        var marker = Path.Combine(Path.GetTempPath(), $"distexec-retry-{Guid.NewGuid():N}");
        var flaky = await SubmitAsync(cluster, Task("sh", "-c", $"if [ -e {marker} ]; then echo second; else touch {marker}; echo first; exit 1; fi", Retry(3, 0.4)));
        var hopeless = await SubmitAsync(cluster, Task("sh", "-c", "exit 3", Retry(3, 0.2)));
        var once = await SubmitAsync(cluster, Task("sh", "-c", "exit 4", Retry(3, 0.2, RetryOn.TimedOut)));

        var recovered = await cluster.WaitForJobAsync(flaky, TimeSpan.FromSeconds(60));
        var failed = await cluster.WaitForJobAsync(hopeless, TimeSpan.FromSeconds(60));
        var notRetried = await cluster.WaitForJobAsync(once, TimeSpan.FromSeconds(60));
        File.Delete(marker);

        Assert.Equal(TaskState.Succeeded, recovered.State);
        var attempts = recovered.Tasks[0].Attempts;
        Assert.Equal(["first", "retry"], attempts.Select(a => a.Cause));
        Assert.Equal([TaskState.Failed, TaskState.Succeeded], attempts.Select(a => a.State));
        var gap = attempts[1].StartedAt.ToDateTimeOffset() - attempts[0].FinishedAt.ToDateTimeOffset();
        Assert.True(gap >= TimeSpan.FromSeconds(0.2), $"the retry started {gap.TotalMilliseconds:0} ms after the failure; the backoff is 0.4 s with jitter down to half");
        // The record keeps the output of the run that decided the task; each run wrote its own.
        Assert.Equal("second\n", (await cluster.OutputAsync(flaky))[0].Stdout);
        Assert.Equal(2L, cluster.StoreScalar("SELECT COUNT(DISTINCT attempt_id) FROM output WHERE job_id = $job", ("$job", flaky)));

        Assert.Equal(TaskState.Failed, failed.State);
        Assert.Equal(3, failed.Tasks[0].ExitCode);
        Assert.Equal(["first", "retry", "retry"], failed.Tasks[0].Attempts.Select(a => a.Cause));

        Assert.Equal(TaskState.Failed, notRetried.State);
        Assert.Single(notRetried.Tasks[0].Attempts);
    }

    [Fact]
    public async Task Retries_MasterKilledWhileARetryWaits_RunsOnceAndNotEarly()
    {
        await using var cluster = await Cluster.StartAsync(1);
        var jobId = await SubmitAsync(cluster, Task("sh", "-c", "date +%s%N; exit 5", Retry(2, 6)));
        var waiting = await cluster.WaitForJobAsync(jobId,
            j => j.Tasks[0].Attempts.Count == 1 && j.Tasks[0].Attempts[0].State == TaskState.Failed && j.Tasks[0].State == TaskState.Queued,
            TimeSpan.FromSeconds(30), "the first run to fail and its retry to be scheduled");
        var failedAt = waiting.Tasks[0].Attempts[0].FinishedAt.ToDateTimeOffset();
        Assert.Contains("retry at", waiting.Tasks[0].Error, StringComparison.Ordinal);

        cluster.Master!.Signal(9);
        Assert.True(await cluster.Master.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        await cluster.StartMasterAsync();

        var done = await cluster.WaitForJobAsync(jobId, TimeSpan.FromSeconds(60));
        Assert.Equal(TaskState.Failed, done.State);
        var attempts = done.Tasks[0].Attempts;
        Assert.Equal(["first", "retry"], attempts.Select(a => a.Cause));
        var waited = attempts[1].StartedAt.ToDateTimeOffset() - failedAt;
        Assert.True(waited >= TimeSpan.FromSeconds(3), $"the retry ran {waited.TotalSeconds:0.0}s after the failure; its backoff is 6 s with jitter down to half");
        Assert.Equal(2L, cluster.StoreScalar("SELECT COUNT(DISTINCT attempt_id) FROM output WHERE job_id = $job", ("$job", jobId)));
        Assert.Equal(2L, cluster.StoreScalar("SELECT COUNT(*) FROM attempts WHERE job_id = $job", ("$job", jobId)));
    }

    [Fact]
    public async Task Delayed_ScheduledUntilItsTime_AcrossAMasterRestartOnce_CancelKeepsItFromRunning()
    {
        await using var cluster = await Cluster.StartAsync(1);

        // --in: Scheduled, with its time shown, listed as scheduled; nothing reaches the broker before the time.
        var later = (await cluster.DistctlAsync("run", "--in", "6s", "--", "sh", "-c", "date +%s%N")).Stdout.Trim();
        var scheduled = (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = later })).Job;
        Assert.Equal(TaskState.Scheduled, scheduled.State);
        var due = scheduled.NotBefore.ToDateTimeOffset();
        var status = await cluster.DistctlAsync("status", later);
        Assert.Contains("Scheduled", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("Starts at:", status.Stdout, StringComparison.Ordinal);
        Assert.Contains(later, (await cluster.DistctlAsync("list", "--state", "scheduled", "-q")).Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(later, (await cluster.DistctlAsync("list", "--state", "queued", "-q")).Stdout, StringComparison.Ordinal);

        // Another for later, canceled: it never runs.
        var canceled = (await cluster.DistctlAsync("run", "--in", "4s", "--", "echo", "never")).Stdout.Trim();
        Assert.Equal(0, (await cluster.DistctlAsync("cancel", canceled)).ExitCode);

        // The master dies before the time and is back after it: the job runs once, not before its time.
        cluster.Master!.Signal(9);
        Assert.True(await cluster.Master.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        await Eventually.Until(() => DateTimeOffset.UtcNow > due + TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), "the scheduled time to pass with the master down");
        await cluster.StartMasterAsync();

        var done = await cluster.WaitForJobAsync(later, TimeSpan.FromSeconds(60));
        Assert.Equal(TaskState.Succeeded, done.State);
        var attempt = Assert.Single(done.Tasks[0].Attempts);
        Assert.True(attempt.StartedAt.ToDateTimeOffset() >= due, $"started {attempt.StartedAt} before its time {due:O}");
        Assert.Equal(1L, cluster.StoreScalar("SELECT COUNT(*) FROM attempts WHERE job_id = $job", ("$job", later)));

        var never = await cluster.WaitForJobAsync(canceled, TimeSpan.FromSeconds(30));
        Assert.Equal(TaskState.Canceled, never.State);
        Assert.Empty(never.Tasks[0].Attempts);
        Assert.Equal(0L, cluster.StoreScalar("SELECT COUNT(*) FROM retries"));

        // Bad times are refused before anything is stored.
        Assert.Equal(2, (await cluster.DistctlAsync("run", "--at", "someday", "--", "true")).ExitCode);
        Assert.Equal(2, (await cluster.DistctlAsync("run", "--at", "02:00", "--in", "1m", "--", "true")).ExitCode);
        var farOff = await cluster.DistctlAsync("run", "--in", "400d", "--", "true");
        Assert.Contains("more than a year ahead", farOff.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConcurrencyKey_LimitOfTwo_NeverExceededByThreeJobsOfTen_AcrossAMasterKilled()
    {
        await using var cluster = await Cluster.StartAsync(2);
        var key = $"db-{cluster.MasterPort}";
        var set = await cluster.DistctlAsync("limits", "set", key, "2");
        Assert.True(set.ExitCode == 0, set.ToString());

        // Each task prints when its process started and ended (ns); three jobs race for the key.
        var ids = new List<string>();
        for (var j = 0; j < 3; j++)
        {
            var run = await cluster.DistctlAsync(["run", "--concurrency-key", key, "--items", .. Enumerable.Range(0, 10).Select(i => $"{j}-{i}"), "--",
                "sh", "-c", "echo start $(date +%s%N); sleep 0.3; echo end $(date +%s%N)", "{}"]);
            Assert.True(run.ExitCode == 0, run.ToString());
            ids.Add(run.Stdout.Trim());
        }

        var waiting = await cluster.DistctlAsync("status", ids[2]);
        Assert.Contains($"Key:       {key}", waiting.Stdout, StringComparison.Ordinal);
        var limits = await cluster.DistctlAsync("limits", "list");
        Assert.Matches($@"{key} +2 +[0-2] +\d+", limits.Stdout);
        var metrics = await cluster.MetricsAsync();
        Assert.Matches($"distexec_concurrency_key_holding{{[^}}]*key=\"{key}\"[^}}]*}} [0-2]\\b", metrics);
        Assert.Contains($"distexec_concurrency_key_waiting{{", metrics, StringComparison.Ordinal);

        // The master dies with SIGKILL mid-run and comes back: the limit and the tasks it holds live in its store.
        cluster.Master!.Signal(9);
        Assert.True(await cluster.Master.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        await cluster.StartMasterAsync();

        var intervals = new List<(long Start, long End)>();
        foreach (var id in ids)
        {
            var job = await cluster.WaitForJobAsync(id, TimeSpan.FromSeconds(120));
            Assert.Equal(TaskState.Succeeded, job.State);
            foreach (var (_, output) in await cluster.OutputAsync(id))
            {
                var numbers = System.Text.RegularExpressions.Regex.Matches(output.Stdout, @"(start|end) (\d+)").ToDictionary(m => m.Groups[1].Value, m => long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
                intervals.Add((numbers["start"], numbers["end"]));
            }
        }

        // At any moment at most two processes of the key's jobs ran, and two did at some moment.
        Assert.Equal(30, intervals.Count);
        var most = intervals.Max(a => intervals.Count(b => b.Start <= a.Start && a.Start < b.End));
        Assert.Equal(2, most);
        Assert.Matches($@"{key} +2 +0 +0", (await cluster.DistctlAsync("limits", "list")).Stdout);

        // Without the limit the key holds nothing back.
        Assert.Equal(0, (await cluster.DistctlAsync("limits", "delete", key)).ExitCode);
        Assert.DoesNotContain(key, (await cluster.DistctlAsync("limits", "list")).Stdout, StringComparison.Ordinal);
        Assert.Equal(125, (await cluster.DistctlAsync("limits", "set", key, "0")).ExitCode);
    }

    [Fact]
    public async Task After_WaitsForItsJobs_AcrossAMasterKilled_AFailureCancelsTheChain_FinishedRunsAnyway()
    {
        await using var cluster = await Cluster.StartAsync(1);
        async Task<string> Run(params string[] args)
        {
            var run = await cluster.DistctlAsync(["run", .. args]);
            Assert.True(run.ExitCode == 0, run.ToString());
            return run.Stdout.Trim();
        }

        var first = await Run("--", "sleep", "2");
        var failing = await Run("--", "sh", "-c", "sleep 2; exit 3");
        var second = await Run("--after", first[..8], "--", "echo", "second");
        var chained = await Run("--after", failing, "--", "echo", "never");
        var chainedFurther = await Run("--after", chained, "--", "echo", "never either");
        var anyway = await Run("--after", $"{failing},{first}", "--after-condition", "finished", "--", "echo", "anyway");

        // Waiting while what it runs after has not ended; its tasks wait in the master.
        var status = await cluster.DistctlAsync("status", second);
        Assert.Contains("Waiting", status.Stdout, StringComparison.Ordinal);
        Assert.Contains($"After:     {first}", status.Stdout, StringComparison.Ordinal);
        Assert.Contains(second, (await cluster.DistctlAsync("list", "--state", "waiting", "-q")).Stdout, StringComparison.Ordinal);

        // The master dies with SIGKILL while they wait and comes back: what waits for what lives in its store.
        cluster.Master!.Signal(9);
        Assert.True(await cluster.Master.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        await cluster.StartMasterAsync();

        var firstDone = await cluster.WaitForJobAsync(first, TimeSpan.FromSeconds(60));
        var secondDone = await cluster.WaitForJobAsync(second, TimeSpan.FromSeconds(60));
        Assert.Equal((TaskState.Succeeded, TaskState.Succeeded), (firstDone.State, secondDone.State));
        Assert.True(secondDone.Tasks[0].Attempts[0].StartedAt.ToDateTimeOffset() >= firstDone.FinishedAt.ToDateTimeOffset(), "the second job started before the first ended");

        // The failure cancels what needed it to succeed, and what needed that, none of them run.
        Assert.Equal(TaskState.Failed, (await cluster.WaitForJobAsync(failing, TimeSpan.FromSeconds(60))).State);
        foreach (var canceled in (string[])[chained, chainedFurther])
        {
            var job = await cluster.WaitForJobAsync(canceled, TimeSpan.FromSeconds(30));
            Assert.Equal(TaskState.Canceled, job.State);
            Assert.Empty(job.Tasks[0].Attempts);
            Assert.StartsWith("not started: job ", job.Tasks[0].Error, StringComparison.Ordinal);
        }

        Assert.Contains($"job {failing} it runs after ended Failed", (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = chained })).Job.Tasks[0].Error, StringComparison.Ordinal);
        Assert.Equal(TaskState.Succeeded, (await cluster.WaitForJobAsync(anyway, TimeSpan.FromSeconds(60))).State);

        // Only existing jobs can be named (so no cycle can form), and a failed one is refused at once.
        var nowhere = await cluster.DistctlAsync("run", "--after", Guid.NewGuid().ToString(), "--", "true");
        Assert.Equal(125, nowhere.ExitCode);
        var late = await cluster.DistctlAsync("run", "--after", failing, "--", "true");
        Assert.Equal(125, late.ExitCode);
        Assert.Contains("already ended Failed", late.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IdempotencyKey_IdenticalSubmissionsRacing_OneJob()
    {
        await using var cluster = await Cluster.StartAsync(1);
        var spec = new JobSpec { IdempotencyKey = $"race-{Guid.NewGuid():N}", Tasks = { Task("echo", "once") } };

        var ids = await System.Threading.Tasks.Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
            (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job.Id));

        Assert.Single(ids.Distinct());
        Assert.Equal(1L, cluster.StoreScalar("SELECT COUNT(*) FROM jobs WHERE idempotency_key = $key", ("$key", spec.IdempotencyKey)));
        var done = await cluster.WaitForJobAsync(ids[0], TimeSpan.FromSeconds(30));
        Assert.Equal(TaskState.Succeeded, done.State);

        // Later, same key: the same job, with its state now.
        var again = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;
        Assert.Equal(ids[0], again.Id);
        Assert.Equal(TaskState.Succeeded, again.State);
        Assert.Equal("once\n", (await cluster.OutputAsync(ids[0]))[0].Stdout);
    }

    [Fact]
    public async Task Labels_ListJobsFiltersOnEveryLabel()
    {
        await using var cluster = await Cluster.StartAsync(0);
        var team = $"t{Guid.NewGuid():N}"[..12];
        var data = await SubmitAsync(cluster, new JobSpec { Labels = { ["team"] = team, ["env"] = "prod" }, Tasks = { Task("true") } });
        var other = await SubmitAsync(cluster, new JobSpec { Labels = { ["team"] = team, ["env"] = "dev" }, Tasks = { Task("true") } });

        var both = await cluster.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { ["team"] = team } });
        var prod = await cluster.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { ["team"] = team, ["env"] = "prod" } });
        var bad = await Assert.ThrowsAsync<RpcException>(async () => await cluster.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { ["bad key!"] = "x" } }));
        var invalid = await Assert.ThrowsAsync<RpcException>(async () =>
            await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = new JobSpec { Labels = { ["-no"] = "x" }, Tasks = { Task("true") } } }));

        Assert.Equal([other, data], both.Jobs.Select(j => j.Id));
        Assert.Equal(data, Assert.Single(prod.Jobs).Id);
        Assert.Equal("prod", prod.Jobs[0].Labels["env"]);
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, invalid.StatusCode);

        var listed = await cluster.DistctlAsync("list", "--label", $"team={team}", "--label", "env=dev");
        Assert.Equal(0, listed.ExitCode);
        Assert.Contains(other, listed.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(data, listed.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Batch_ItemsFile_OneTaskPerLinePrefixedOutputAndFailedItems()
    {
        await using var cluster = await Cluster.StartAsync(2);
        var file = Path.GetTempFileName();
        await File.WriteAllLinesAsync(file, Enumerable.Range(1, 40).Select(i => $"item-{i}"));

        var ok = await cluster.DistctlAsync("run", "--wait", "--items-file", file, "--", "echo", "got {}");
        var someFail = await cluster.DistctlAsync("run", "--wait", "--items", "good", "bad", "--", "sh", "-c", "echo {}; test {} = good");
        var grouped = await cluster.DistctlAsync("run", "--wait", "--group", "--items", "a", "b", "--", "echo");
        File.Delete(file);

        Assert.True(ok.ExitCode == 0, ok.ToString());
        var lines = ok.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(40, lines.Length);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => $"[item-{i}] got item-{i}").Order(), lines.Order());
        Assert.Contains("40 of 40 tasks succeeded", ok.Stderr, StringComparison.Ordinal);

        Assert.Equal(1, someFail.ExitCode);
        Assert.Contains("[bad] bad", someFail.Stdout, StringComparison.Ordinal);
        Assert.Contains("failed: bad (Failed)", someFail.Stderr, StringComparison.Ordinal);

        Assert.Equal(0, grouped.ExitCode);
        Assert.Equal("== a (succeeded) ==\na\n== b (succeeded) ==\nb\n", grouped.Stdout);
    }

    [Fact]
    public async Task Batch_ThousandItemsMaxParallelFive_NeverMoreThanFiveAtOnce()
    {
        await using var cluster = await Cluster.StartAsync(2);
        var file = Path.GetTempFileName();
        await File.WriteAllLinesAsync(file, Enumerable.Range(1, 1000).Select(i => $"{i}"));

        var run = await cluster.DistctlAsync("run", "--wait", "--max-parallel", "5", "--items-file", file, "--", "echo", "n{}");
        File.Delete(file);

        Assert.True(run.ExitCode == 0, run.ToString()[..Math.Min(2000, run.ToString().Length)]);
        Assert.Equal(1000, run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Distinct().Count());
        var jobId = (string)cluster.StoreScalar("SELECT id FROM jobs WHERE max_parallel = 5 ORDER BY seq DESC LIMIT 1")!;

        // Every attempt's [start, end], from the workers' own timestamps: at no instant more than five.
        var events = new List<(long At, int Delta)>();
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={cluster.DatabasePath};Mode=ReadOnly"))
        {
            db.Open();
            using var query = db.CreateCommand();
            query.CommandText = "SELECT started_at, finished_at FROM attempts WHERE job_id = $job";
            query.Parameters.AddWithValue("$job", jobId);
            using var reader = query.ExecuteReader();
            while (reader.Read())
            {
                events.Add((reader.GetInt64(0), +1));
                events.Add((reader.GetInt64(1), -1));
            }
        }

        var running = 0;
        var most = 0;
        foreach (var (_, delta) in events.OrderBy(e => e.At).ThenBy(e => e.Delta))
        {
            running += delta;
            most = Math.Max(most, running);
        }

        Assert.Equal(2000, events.Count);
        Assert.InRange(most, 2, 5);
    }

    [Fact]
    public async Task Batch_MaxErrors_RestNotStartedAndMarkedSo()
    {
        await using var cluster = await Cluster.StartAsync(1);

        var run = await cluster.DistctlAsync("run", "--wait", "--max-parallel", "1", "--max-errors", "2", "--items", "1", "2", "3", "4", "5", "6", "--", "sh", "-c", "exit {}");
        var jobId = (string)cluster.StoreScalar("SELECT id FROM jobs WHERE max_errors = 2 ORDER BY seq DESC LIMIT 1")!;
        var job = await cluster.WaitForJobAsync(jobId, TimeSpan.FromSeconds(30));

        Assert.NotEqual(0, run.ExitCode);
        Assert.Equal(TaskState.Failed, job.State);
        Assert.Equal([TaskState.Failed, TaskState.Failed, TaskState.Canceled, TaskState.Canceled, TaskState.Canceled, TaskState.Canceled], job.Tasks.Select(t => t.State));
        Assert.All(job.Tasks.Skip(2), t => Assert.Empty(t.Attempts));
        Assert.All(job.Tasks.Skip(2), t => Assert.StartsWith("not started: 2 task(s) failed", t.Error, StringComparison.Ordinal));
    }

    [Fact]
    public async Task FanOut_ThreeWorkersOneKilled_TwoResultsAndOneLost()
    {
        await using var cluster = await Cluster.StartAsync(3);
        var workers = cluster.Workers.Select(w => w.Name).Order(StringComparer.Ordinal).ToList();
        var victim = cluster.Workers.Single(w => w.Name == workers[2]);

        var job = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest
        {
            Spec = new JobSpec { AllWorkers = true, Tasks = { Task("sh", "-c", "sleep 3; echo ran") } },
        })).Job;
        victim.Signal(9);
        var done = await cluster.WaitForJobAsync(job.Id, TimeSpan.FromSeconds(60));

        Assert.Equal(workers, done.Tasks.Select(t => t.Spec.Worker).Order(StringComparer.Ordinal));
        Assert.Equal(TaskState.Failed, done.State);
        var lost = Assert.Single(done.Tasks, t => t.State != TaskState.Succeeded);
        Assert.Equal(workers[2], lost.Spec.Worker);
        Assert.StartsWith($"lost: worker {workers[2]} was lost", lost.Error, StringComparison.Ordinal);
        var output = await cluster.OutputAsync(job.Id);
        Assert.All(done.Tasks.Where(t => t.State == TaskState.Succeeded), t =>
        {
            Assert.Equal(t.Spec.Worker, t.WorkerId);
            Assert.Equal("ran\n", output[t.Index].Stdout);
        });

        // From distctl, on the two left: one line per worker, prefixed with its id.
        var run = await cluster.DistctlAsync("run", "--wait", "--all-workers", "--", "echo", "hello");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(workers.Take(2).Select(w => $"[{w}] hello"), run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        Assert.Contains("2 of 2 tasks succeeded", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Targeting_AllWorkersWhere_ReachesExactlyTheMatchingWorkers()
    {
        await using var cluster = await Cluster.StartAsync(0);
        var port = cluster.MasterPort;
        var labels = new Dictionary<string, string>
        {
            [$"a1-{port}"] = "zone=a,disk=ssd",
            [$"a2-{port}"] = "zone=a,disk=hdd",
            [$"b1-{port}"] = "zone=b,disk=ssd",
        };
        foreach (var (id, workerLabels) in labels)
        {
            cluster.StartWorker(id, settings: new Dictionary<string, string> { ["WORKER_LABELS"] = workerLabels });
        }

        await cluster.WaitForWorkersAsync(3);

        // Exactly the matching workers run it: each task is addressed to one, and ran there.
        var zoneA = await cluster.DistctlAsync("run", "--wait", "--all-workers", "--where", "zone=a", "--", "echo", "in-a");
        Assert.True(zoneA.ExitCode == 0, zoneA.ToString());
        Assert.Equal([$"[a1-{port}] in-a", $"[a2-{port}] in-a"], zoneA.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        var both = await cluster.DistctlAsync("run", "--wait", "--all-workers", "--where", "zone=a", "--where", "disk=ssd", "--", "echo", "fast");
        Assert.Equal($"[a1-{port}] fast\n", both.Stdout);
        var job = (await cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 1 })).Jobs[0];
        var ran = await cluster.WaitForJobAsync(job.Id, TimeSpan.FromSeconds(30));
        Assert.Equal([$"a1-{port}"], ran.Tasks.Select(t => t.WorkerId));

        // Nobody matches: refused at submission, nothing queued.
        var nobody = await cluster.DistctlAsync("run", "--all-workers", "--where", "zone=c", "--", "echo", "never");
        Assert.NotEqual(0, nobody.ExitCode);
        Assert.Contains("has the labels zone=c", nobody.Stderr, StringComparison.Ordinal);
        var alone = await cluster.DistctlAsync("run", "--where", "zone=a", "--", "echo", "no");
        Assert.Equal(2, alone.ExitCode);

        // distctl workers --where lists the same ones, with their labels.
        Assert.Equal([$"a1-{port}", $"b1-{port}"], (await cluster.DistctlAsync("workers", "--where", "disk=ssd", "-q")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("disk=hdd,zone=a", (await cluster.DistctlAsync("workers")).Stdout, StringComparison.Ordinal);

        // A worker with a malformed WORKER_LABELS does not start, and says why.
        var bad = await ProcessRunner.RunAsync(RepoPaths.Bin("worker"), [], new Dictionary<string, string?> { ["WORKER_LABELS"] = "zone", ["MASTER_ADDRESS"] = cluster.MasterAddress, ["RABBITMQ_URL"] = null });
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("WORKER_LABELS: \"zone\" is not key=value", bad.Stderr + bad.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retention_FinishedJobsRemoved_RunningJobsKept()
    {
        // 0.0005 h = 1.8 s.
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string> { ["JOB_RETENTION_HOURS"] = "0.0005" });
        var key = $"kept-until-removed-{Guid.NewGuid():N}";
        var finished = await SubmitAsync(cluster, new JobSpec { IdempotencyKey = key, Tasks = { Task("echo", "bye") } });
        // Runs far longer than any wait here: it is still running, and older than the retention, when checked.
        var running = await SubmitAsync(cluster, Task("sleep", "300"));
        await cluster.WaitForJobAsync(finished, TimeSpan.FromSeconds(30));
        await cluster.WaitForJobAsync(running, j => j.State == TaskState.Running, TimeSpan.FromSeconds(30), "the long job running");

        await Eventually.Until(async () =>
        {
            try
            {
                await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = finished });
                return false;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
            {
                return true;
            }
        }, gone => gone, TimeSpan.FromSeconds(30), "the finished job to be removed");

        Assert.Equal(0L, cluster.StoreScalar("SELECT COUNT(*) FROM output WHERE job_id = $job", ("$job", finished)));
        Assert.Equal(0L, cluster.StoreScalar("SELECT COUNT(*) FROM tasks WHERE job_id = $job", ("$job", finished)));
        Assert.Equal(TaskState.Running, (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = running })).Job.State);

        // The key went with its job: a new submission makes a new job.
        var fresh = await SubmitAsync(cluster, new JobSpec { IdempotencyKey = key, Tasks = { Task("echo", "again") } });
        Assert.NotEqual(finished, fresh);
        await cluster.Jobs.CancelJobAsync(new CancelJobRequest { JobId = running });
    }

    [Fact]
    public async Task Priority_HighOvertakesAQueueOfLow_NormalBeforeLow_OneQueuePerPriority()
    {
        // One slot: the order the tasks start in is the order the worker chose.
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string> { ["MAX_CONCURRENT_TASKS"] = "1" });
        // The first low task holds the slot until the gate opens, once normal and high are both queued: a slot freed
        // between the two submissions would rightly go to normal (a loaded machine once took that long between them).
        var gate = Path.Combine(Path.GetTempPath(), $"distexec-gate-{Guid.NewGuid():N}");
        var stamp = $"date +%s%N; while [ ! -e {gate} ]; do sleep 0.02; done; sleep 0.3";
        try
        {
            var low = (await cluster.DistctlAsync("run", "--priority", "low", "--items", "1", "2", "3", "4", "5", "6", "7", "8", "--", "sh", "-c", stamp)).Stdout.Trim();
            await cluster.WaitForJobAsync(low, j => j.State == TaskState.Running, TimeSpan.FromSeconds(30), "the low job to start");
            var normal = (await cluster.DistctlAsync("run", "--priority", "normal", "--items", "1", "2", "3", "--", "sh", "-c", stamp)).Stdout.Trim();
            var high = (await cluster.DistctlAsync("run", "--priority", "high", "--items", "1", "2", "3", "--", "sh", "-c", stamp)).Stdout.Trim();
            Assert.Contains("Priority:  high", (await cluster.DistctlAsync("status", high)).Stdout, StringComparison.Ordinal);
            await File.WriteAllTextAsync(gate, "");
            await AssertPriorityOrderAsync(cluster, low, normal, high);
        }
        finally
        {
            File.Delete(gate);
        }
    }

    private static async Task AssertPriorityOrderAsync(Cluster cluster, string low, string normal, string high)
    {
        var starts = new Dictionary<string, List<long>>();
        foreach (var (name, id) in new[] { ("low", low), ("normal", normal), ("high", high) })
        {
            Assert.Equal(TaskState.Succeeded, (await cluster.WaitForJobAsync(id, TimeSpan.FromSeconds(90))).State);
            starts[name] = [.. (await cluster.OutputAsync(id)).Values.Select(o => long.Parse(o.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture))];
        }

        // Every high task started before every normal one, and every normal one before the low tasks still queued
        // when they came (at most two low ones started first: the one running and the one already waiting for the slot).
        Assert.True(starts["high"].Max() < starts["normal"].Min(), "a normal task started before a high one");
        var lowAfter = starts["low"].Where(t => t > starts["high"].Min()).ToList();
        Assert.True(lowAfter.Count >= 6, $"only {lowAfter.Count} low tasks started after the first high one");
        Assert.True(starts["normal"].Max() < lowAfter.Min(), "a low task overtook a normal one");

        // Each priority has its own queue, and all three are the pool's: distexec.tasks.default, .high, .low.
        await using (var connection = await RabbitMqBroker.ConnectAsync(cluster.BrokerUrl))
        await using (var channel = await connection.CreateChannelAsync())
        {
            foreach (var queue in (string[])["distexec.tasks.default", "distexec.tasks.default.high", "distexec.tasks.default.low"])
            {
                Assert.Equal(1u, (await channel.QueueDeclarePassiveAsync(queue)).ConsumerCount); // the worker consumes each (a missing queue throws)
            }
        }

        Assert.Equal(2, (await cluster.DistctlAsync("run", "--priority", "urgent", "--", "true")).ExitCode);
    }

    [Fact]
    public async Task Workflow_JobsWithNeeds_OneFailsItsDependentsCanceledOrRun_ShownAsOne()
    {
        await using var cluster = await Cluster.StartAsync(1);
        using var folder = new TempDirectory("distexec-workflow-");
        await File.WriteAllTextAsync(folder.File("nightly.yaml"), """
            workflow: nightly
            jobs:
              publish:
                needs: [build]
                tasks: [{ command: { program: echo, args: [published] } }]
              fetch:
                tasks: [{ command: { program: sh, args: ["-c", "date +%s%N"] } }]
              build:
                needs: fetch
                tasks: [{ command: { program: sh, args: ["-c", "date +%s%N; exit 3"] } }]
              cleanup:
                needs: [build]
                afterCondition: AFTER_CONDITION_FINISHED
                tasks: [{ command: { program: echo, args: [cleaned] } }]
            """);

        var run = await cluster.DistctlAsync("run", "-f", folder.File("nightly.yaml"), "--wait");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("2 of 4 jobs succeeded; not: build, publish", run.Stderr, StringComparison.Ordinal);

        var jobs = (await cluster.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { ["workflow"] = "nightly" } })).Jobs.ToDictionary(j => j.Labels["workflow-job"]);
        Assert.Equal(["build", "cleanup", "fetch", "publish"], jobs.Keys.Order(StringComparer.Ordinal));
        Assert.Single(jobs.Values.Select(j => j.Labels["workflow-run"]).Distinct());
        Assert.Equal(TaskState.Succeeded, jobs["fetch"].State);
        Assert.Equal(TaskState.Failed, jobs["build"].State);
        Assert.Equal(TaskState.Canceled, jobs["publish"].State);
        Assert.Equal(TaskState.Succeeded, jobs["cleanup"].State);
        var fetched = long.Parse((await cluster.OutputAsync(jobs["fetch"].Id))[0].Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var built = long.Parse((await cluster.OutputAsync(jobs["build"].Id))[0].Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(built > fetched, "build ran before the job it needs");
        var publish = (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = jobs["publish"].Id })).Job;
        Assert.Contains($"job {jobs["build"].Id}", publish.Tasks[0].Error, StringComparison.Ordinal);

        // status of any of its jobs shows the whole run, in order, with states and needs.
        var status = (await cluster.DistctlAsync("status", jobs["cleanup"].Id)).Stdout;
        Assert.Contains("Workflow:  nightly", status, StringComparison.Ordinal);
        var lines = status.Split('\n').SkipWhile(l => !l.StartsWith("Workflow:", StringComparison.Ordinal)).Skip(1).Where(l => l.Length > 0).ToList();
        Assert.Equal(["fetch", "build", "publish", "cleanup"], lines.Select(l => l[3..].Split(' ')[0]));
        Assert.Contains("after build", lines[3], StringComparison.Ordinal);
        Assert.StartsWith(" *", lines[3], StringComparison.Ordinal);

        // Bad files: a cycle or an unknown need is refused before anything is submitted.
        await File.WriteAllTextAsync(folder.File("cycle.yaml"), "jobs:\n  a: { needs: [b], tasks: [{ command: { program: \"true\" } }] }\n  b: { needs: [a], tasks: [{ command: { program: \"true\" } }] }\n");
        var cycle = await cluster.DistctlAsync("run", "-f", folder.File("cycle.yaml"));
        Assert.Equal(2, cycle.ExitCode);
        Assert.Contains("cycle: a -> b -> a", cycle.Stderr, StringComparison.Ordinal);
        await File.WriteAllTextAsync(folder.File("unknown.yaml"), "jobs:\n  a: { needs: [zzz], tasks: [{ command: { program: \"true\" } }] }\n");
        Assert.Contains("needs zzz, which the workflow does not have", (await cluster.DistctlAsync("run", "-f", folder.File("unknown.yaml"))).Stderr, StringComparison.Ordinal);
        Assert.Equal(4, (await cluster.Jobs.ListJobsAsync(new ListJobsRequest())).Jobs.Count);
    }

    private static TaskSpec Task(string program, params string[] args) =>
        new() { Command = new CommandSpec { Program = program, Args = { args } } };

    private static TaskSpec Task(string program, string flag, string script, RetryPolicy retry)
    {
        var task = Task(program, flag, script);
        task.Retry = retry;
        return task;
    }

    private static RetryPolicy Retry(int attempts, double backoffSeconds, params RetryOn[] on)
    {
        var policy = new RetryPolicy { MaxAttempts = attempts, InitialBackoff = Duration.FromTimeSpan(TimeSpan.FromSeconds(backoffSeconds)) };
        policy.RetryOn.AddRange(on);
        return policy;
    }

    private static Task<string> SubmitAsync(Cluster cluster, TaskSpec task) => SubmitAsync(cluster, new JobSpec { Tasks = { task } });

    private static async Task<string> SubmitAsync(Cluster cluster, JobSpec spec) =>
        (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job.Id;
}
