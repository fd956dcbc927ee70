using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Grpc.Core;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>
/// Two masters on one PostgreSQL store and one broker, as two replicas behind a Service: either answers any call,
/// a watcher on one sees what the other stored, both list the same workers, and when one is killed the other serves
/// submissions at once and takes over the duties within the lease's time.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class TwoMastersTests
{
    [Fact]
    public async Task TwoMasters_OneStore_EitherServes_WatchersSeeBoth_AndTheSurvivorTakesOverWhenOneIsKilled()
    {
        var url = await (await PostgresServer.Shared).NewDatabaseUrlAsync();
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string> { ["MASTER_DB_URL"] = url });
        await using var b = await cluster.StartAnotherMasterAsync();

        // Submitted to B, followed on A: the output arrives live whichever master stored it.
        var spec = new JobSpec();
        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", "echo first; sleep 2; echo second" } } });
        var job = (await b.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using (var watch = cluster.Jobs.WatchJob(new WatchJobRequest { JobId = job.Id, Follow = true }))
        {
            var lines = new List<string>();
            await foreach (var message in watch.ResponseStream.ReadAllAsync(deadline.Token))
            {
                if (message.EventCase == WatchJobResponse.EventOneofCase.Output)
                {
                    lines.Add(message.Output.Data.ToStringUtf8());
                }
            }

            Assert.Equal("first\nsecond\n", string.Concat(lines));
        }

        Assert.Equal(TaskState.Succeeded, (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id })).Job.State);

        // The worker heartbeats to A; B lists it too.
        await Eventually.Until(async () => (await b.Workers.ListWorkersAsync(new ListWorkersRequest())).Workers.Select(w => w.State).ToList(),
            states => states.SequenceEqual([WorkerState.Alive]), TimeSpan.FromSeconds(15), "B listing the worker A heard from");

        // A, which started first and holds the duties, is killed: B serves a submission at once and takes the duties.
        Assert.Contains("took the duties lease", cluster.Master!.Output, StringComparison.Ordinal);
        cluster.Master.Signal(9);
        var killedAt = DateTime.UtcNow;
        var echo = new JobSpec();
        echo.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "echo", Args = { "after" } } });
        var after = (await b.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = echo }, deadline: DateTime.UtcNow.AddSeconds(5))).Job;
        await Eventually.Until(async () => (await b.Jobs.GetJobAsync(new GetJobRequest { JobId = after.Id })).Job.State,
            state => state == TaskState.Succeeded, TimeSpan.FromSeconds(30), "the job submitted to B after A's death to succeed");
        await Eventually.Until(() => b.Process.Output.Contains("took the duties lease", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "B to take the duties lease");
        Assert.True(DateTime.UtcNow - killedAt < TimeSpan.FromSeconds(15), $"B took the duties {DateTime.UtcNow - killedAt} after A's death");
    }

    [Theory]
    [InlineData("wrong password")]
    [InlineData("no such database")]
    [InlineData("bad URL")]
    public async Task Master_PostgresItCannotUse_OneLineWithoutThePasswordAndExit2(string problem)
    {
        var url = new UriBuilder(await (await PostgresServer.Shared).NewDatabaseUrlAsync());
        string says;
        switch (problem)
        {
            case "wrong password":
                url.Password = "not-the-password-0123";
                says = "refused the master: password authentication failed";
                break;
            case "no such database":
                url.Path = "/distexec_nobody_made_this";
                says = "refused the master: database \"distexec_nobody_made_this\" does not exist";
                break;
            default:
                url.Scheme = "mysql";
                url.Password = "not-the-password-0123";
                says = "MASTER_DB_URL must be a URL like postgres://";
                break;
        }

        await using var master = ChildProcess.Start("master", RepoPaths.Bin("master"), [], new Dictionary<string, string?>
        {
            ["MASTER_ADDRESS"] = $"127.0.0.1:{FreePort.Next()}",
            ["MASTER_HTTP_ADDRESS"] = "off",
            ["MASTER_DB_URL"] = url.Uri.ToString(),
            ["API_TOKEN"] = null,
            ["RABBITMQ_URL"] = null,
        });

        Assert.True(await master.WaitForExitAsync(TimeSpan.FromSeconds(30)), master.Output);
        Assert.Equal(2, master.ExitCode);
        Assert.Contains(says, master.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password-0123", master.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", master.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Master_StartedBeforeItsDatabaseAnswers_WaitsForItThenServes()
    {
        // The database's address answers nothing yet (a PostgreSQL still starting beside the master).
        var real = new Uri(await (await PostgresServer.Shared).NewDatabaseUrlAsync());
        var port = FreePort.Next();
        var url = new UriBuilder(real) { Port = port }.Uri.ToString();
        var grpc = FreePort.Next();
        await using var master = ChildProcess.Start("master", RepoPaths.Bin("master"), [], new Dictionary<string, string?>
        {
            ["MASTER_ADDRESS"] = $"127.0.0.1:{grpc}",
            ["MASTER_HTTP_ADDRESS"] = "off",
            ["MASTER_DB_URL"] = url,
            ["API_TOKEN"] = null,
            ["RABBITMQ_URL"] = null,
        });
        await Eventually.Until(() => master.Output.Contains("does not answer yet", StringComparison.Ordinal) || master.HasExited, TimeSpan.FromSeconds(30), "the master saying it waits");
        Assert.False(master.HasExited, master.Output);

        // The database comes up at that address: the master opens its store and serves from it (no broker here:
        // a read, which the store alone answers).
        await using var database = TcpFront.Start([$"{real.Host}:{real.Port}"], port);
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{grpc}");
        var jobs = new JobService.JobServiceClient(channel);
        var listed = await Eventually.Until(async () => await jobs.ListJobsAsync(new ListJobsRequest(), deadline: DateTime.UtcNow.AddSeconds(5)),
            reply => reply is not null, TimeSpan.FromSeconds(60), "the store's jobs listed once the database answers");
        Assert.Empty(listed.Jobs);
        Assert.False(master.HasExited, master.Output);
        // Its waiting said in one line each time, without a stack trace.
        Assert.All(master.Output.Split('\n').Where(l => l.Contains("does not answer yet", StringComparison.Ordinal)),
            line => Assert.Contains("trying again in 2 s", line, StringComparison.Ordinal));
        Assert.DoesNotContain("Npgsql.NpgsqlException", master.Output, StringComparison.Ordinal);
    }
}
