using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>WORKER_IDLE_EXIT_SECONDS (workers run as KEDA ScaledJobs): leave when idle, never while a task runs.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class IdleExitTests(ClusterFixture fixture)
{
    [Fact]
    public async Task IdleExit_RunsItsTaskThenLeavesCleanly()
    {
        var pool = $"idle-{Guid.NewGuid():N}"[..20];
        var spec = new JobSpec { Pool = pool };
        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", "sleep 4; echo done" } } });
        var job = (await fixture.Cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;

        var worker = fixture.Cluster.StartWorker($"idle-worker-{pool}", pool, new Dictionary<string, string> { ["WORKER_IDLE_EXIT_SECONDS"] = "2" });

        Assert.True(await worker.WaitForExitAsync(TimeSpan.FromSeconds(60)), worker.Output);
        Assert.Equal(0, worker.ExitCode);
        var done = await fixture.Cluster.WaitForJobAsync(job.Id, TimeSpan.FromSeconds(10));
        Assert.Equal(TaskState.Succeeded, done.State);
        Assert.Contains("WORKER_IDLE_EXIT_SECONDS", worker.Output, StringComparison.Ordinal);
    }
}
