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
}
