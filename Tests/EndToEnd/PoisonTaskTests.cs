using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>A task that kills its worker every time ends Failed after the delivery limit; it never spins forever.</summary>
[Trait("Category", "EndToEnd")]
public sealed class PoisonTaskTests
{
    [Fact]
    public async Task TaskKillingItsWorker_FailsAfterDeliveryLimitWithReason()
    {
        // TASK_USER=inherit: a task of its own user cannot signal its worker (HostileTaskTests proves that), so
        // here it runs as the worker's user to play a task that crashes its worker (as an OOM kill would).
        await using var cluster = await Cluster.StartAsync(workers: 0, new Dictionary<string, string> { ["TASK_DELIVERY_LIMIT"] = "1", ["TASK_USER"] = "inherit" });
        var spec = new JobSpec();
        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", "kill -9 $PPID" } } });
        var job = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;

        // Each delivery kills the worker that took it; start a fresh one each time, as an orchestrator would.
        Job current = job;
        for (var round = 0; round < 6 && !TaskRules.IsTerminal(current.State); round++)
        {
            var worker = cluster.StartWorker($"victim-{round}-{cluster.MasterPort}");
            var exited = worker.WaitForExitAsync(TimeSpan.FromSeconds(30));
            current = await Eventually.Until(
                async () => (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id })).Job,
                j => TaskRules.IsTerminal(j.State) || worker.HasExited,
                TimeSpan.FromSeconds(30), "the worker to die or the job to end");
            if (!TaskRules.IsTerminal(current.State))
            {
                Assert.True(await exited, $"round {round}: the worker survived\n{worker.Output}");
            }
        }

        var done = await cluster.WaitForJobAsync(job.Id, TimeSpan.FromSeconds(30));
        Assert.Equal(TaskState.Failed, done.State);
        Assert.Contains("TASK_DELIVERY_LIMIT=1", done.Tasks[0].Error, StringComparison.Ordinal);
        Assert.Equal(FailureKind.GaveUp, done.Tasks[0].FailureKind);
        Assert.True(done.Tasks[0].Attempts.Count <= 2, $"{done.Tasks[0].Attempts.Count} attempts");
    }
}
