using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>
/// A big job is answered once it is stored and its first window of tasks is confirmed by the broker; the rest are
/// published behind the answer. What the answer promises must hold whatever happens next: here the master dies
/// with SIGKILL the moment it has answered.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class BigJobTests
{
    [Fact]
    public async Task BigJob_MasterKilledRightAfterItAnswered_EveryTaskRunsAndIsRecordedOnce()
    {
        await using var cluster = await Cluster.StartAsync(2);
        const int Count = 6000;
        var spec = new JobSpec();
        for (var i = 0; i < Count; i++)
        {
            spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "echo", Args = { $"task {i}" } } });
        }

        var id = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job.Id;
        cluster.Master!.Signal(9);
        Assert.True(await cluster.Master.WaitForExitAsync(TimeSpan.FromSeconds(10)));

        // It answered before publishing them all: the dead master's store has tasks never confirmed by the broker
        // (and, answered, at least the first window confirmed).
        var unpublished = (long)cluster.StoreScalar("SELECT COUNT(*) FROM tasks WHERE job_id = $job AND published = 0", ("$job", id))!;
        Assert.InRange(unpublished, 1, Count - 256);
        Assert.Equal(1L, cluster.StoreScalar("SELECT accepted FROM jobs WHERE id = $job", ("$job", id)));

        // The master that comes back publishes what was left; every task ends Succeeded with its own output once.
        await cluster.StartMasterAsync();
        var job = await cluster.WaitForJobAsync(id, TimeSpan.FromSeconds(240));
        Assert.Equal(TaskState.Succeeded, job.State);
        var output = await cluster.OutputAsync(id);
        Assert.Equal(Count, output.Count);
        Assert.All(output, pair => Assert.Equal($"task {pair.Key}\n", pair.Value.Stdout));
        Assert.Equal(0L, cluster.StoreScalar("SELECT COUNT(*) FROM tasks WHERE job_id = $job AND published = 0", ("$job", id)));
    }
}
