using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Grpc.Core;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>Output reaches a watcher while the task still runs, not when it ends.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class LiveOutputTests(ClusterFixture fixture)
{
    private Cluster Cluster => fixture.Cluster;

    [Fact]
    public async Task WatchJob_RunningTask_FirstLineArrivesBeforeTheJobEnds()
    {
        var spec = new JobSpec();
        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", "echo first; sleep 4; echo second" } } });
        var job = (await Cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;

        using var call = Cluster.Jobs.WatchJob(new WatchJobRequest { JobId = job.Id, Follow = true });
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string? firstLine = null;
        TaskState stateWhenFirstLineArrived = TaskState.Unspecified;
        long lastOffset = 0;
        await foreach (var message in call.ResponseStream.ReadAllAsync(deadline.Token))
        {
            if (message.EventCase == WatchJobResponse.EventOneofCase.Output && firstLine is null)
            {
                firstLine = message.Output.Data.ToStringUtf8();
                lastOffset = message.Output.Offset;
                stateWhenFirstLineArrived = (await Cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id })).Job.State;
            }
        }

        Assert.Equal("first\n", firstLine);
        Assert.Equal(TaskState.Running, stateWhenFirstLineArrived);

        // Resuming after the first chunk gives only what came later.
        using var resumed = Cluster.Jobs.WatchJob(new WatchJobRequest { JobId = job.Id, FromOffset = lastOffset });
        var rest = new List<string>();
        await foreach (var message in resumed.ResponseStream.ReadAllAsync(deadline.Token))
        {
            if (message.EventCase == WatchJobResponse.EventOneofCase.Output)
            {
                rest.Add(message.Output.Data.ToStringUtf8());
            }
        }

        Assert.Equal("second\n", string.Concat(rest));
    }
}
