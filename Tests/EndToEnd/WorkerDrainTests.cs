using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>SIGTERM on a worker: short tasks finish where they are, long ones come back as the next attempt elsewhere.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class WorkerDrainTests(ClusterFixture fixture)
{
    private Cluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Sigterm_MidRun_ShortTaskFinishesLongTaskRunsAgainElsewhere()
    {
        var pool = $"drain-{Cluster.MasterPort}";
        var first = Cluster.StartWorker($"drainer-a-{Cluster.MasterPort}", pool);
        var spec = new JobSpec { Pool = pool };
        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", "sleep 1; echo short" } } });
        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", "sleep 8; echo long" } } });
        var job = (await Cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;
        await Eventually.Until(
            async () => (await Cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id })).Job,
            j => j.Tasks.All(t => t.State == TaskState.Running),
            TimeSpan.FromSeconds(30), "both tasks running");

        first.Signal(15);

        // DRAIN_TIMEOUT_SECONDS is 3 in this cluster: the short task finishes, the long one is given back.
        Assert.True(await first.WaitForExitAsync(TimeSpan.FromSeconds(20)), first.Output);
        var drained = (await Cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id })).Job;
        Assert.Equal(TaskState.Succeeded, drained.Tasks[0].State);
        Assert.Equal(TaskState.Queued, drained.Tasks[1].State);

        Cluster.StartWorker($"drainer-b-{Cluster.MasterPort}", pool);
        var done = await Cluster.WaitForJobAsync(job.Id, TimeSpan.FromSeconds(60));

        Assert.Equal(TaskState.Succeeded, done.State);
        Assert.Single(done.Tasks[0].Attempts);
        Assert.Equal([TaskState.Lost, TaskState.Succeeded], done.Tasks[1].Attempts.Select(a => a.State));
        Assert.Equal([1, 2], done.Tasks[1].Attempts.Select(a => a.Number));
        Assert.NotEqual(done.Tasks[1].Attempts[0].WorkerId, done.Tasks[1].Attempts[1].WorkerId);
        var output = await Cluster.OutputAsync(job.Id);
        Assert.Equal("short\n", output[0].Stdout);
        Assert.Equal("long\n", output[1].Stdout);
    }

    [Fact]
    public async Task Distctl_MasterOptionBeforeOrAfterVerb_BothWork()
    {
        var submitted = await Cluster.DistctlAsync("run", "--", "true");
        var jobId = submitted.Stdout.Trim();

        var before = await Cluster.DistctlAsync("--master", Cluster.MasterAddress, "status", jobId);
        var after = await Cluster.DistctlAsync("status", jobId, "--master", Cluster.MasterAddress);
        var wrong = await Cluster.DistctlAsync("status", jobId, "--master", $"127.0.0.1:{FreePort.Next()}");

        Assert.True(before.ExitCode == 0, before.ToString());
        Assert.True(after.ExitCode == 0, after.ToString());
        Assert.True(wrong.ExitCode == 69, wrong.ToString());
        Assert.Contains("cannot reach the master", wrong.Stderr, StringComparison.Ordinal);
    }
}
