using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>Workers leaving: SIGTERM drains (short tasks finish, long ones come back); SIGKILL is noticed and its task runs again.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class WorkerLifecycleTests(ClusterFixture fixture)
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
        // The worker reported both before it exited; the master applies the reports from its queue a moment later.
        var drained = await Eventually.Until(
            async () => (await Cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id })).Job,
            j => j.Tasks[0].State != TaskState.Running && j.Tasks[1].State != TaskState.Running,
            TimeSpan.FromSeconds(30), "the drained worker's reports applied");
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
    public async Task Kill9_WorkerMidTask_ShownLostAndTaskRunsAgainElsewhere()
    {
        var pool = $"crash-{Cluster.MasterPort}";
        var doomed = Cluster.StartWorker($"doomed-{Cluster.MasterPort}", pool);
        // Registered (it registers once its queues are bound), so the registry can later show it lost.
        await Cluster.WaitForWorkersAsync(1, pool);
        var spec = new JobSpec { Pool = pool };
        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", "sleep 2; echo survived" } } });
        var job = (await Cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;
        await Eventually.Until(
            async () => (await Cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id })).Job,
            j => j.State == TaskState.Running, TimeSpan.FromSeconds(30), "task running");

        doomed.Signal(9);
        Cluster.StartWorker($"rescuer-{Cluster.MasterPort}", pool);

        // HEARTBEAT_TIMEOUT_SECONDS is 5 here: the dead worker shows as lost, and so does its attempt.
        var done = await Eventually.Until(
            async () => (await Cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id })).Job,
            j => j.State == TaskState.Succeeded && j.Tasks[0].Attempts.Count == 2 && j.Tasks[0].Attempts[0].State == TaskState.Lost,
            TimeSpan.FromSeconds(60), "job done and first attempt lost");
        Assert.Equal($"doomed-{Cluster.MasterPort}", done.Tasks[0].Attempts[0].WorkerId);
        Assert.Equal($"rescuer-{Cluster.MasterPort}", done.Tasks[0].Attempts[1].WorkerId);
        Assert.Equal("survived\n", (await Cluster.OutputAsync(job.Id))[0].Stdout);
        var workers = await Cluster.WorkerControl.ListWorkersAsync(new ListWorkersRequest { Pool = pool });
        Assert.Equal(WorkerState.Lost, workers.Workers.Single(w => w.WorkerId == $"doomed-{Cluster.MasterPort}").State);
    }
}
