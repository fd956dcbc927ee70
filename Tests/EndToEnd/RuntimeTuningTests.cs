using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Hosting;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>The master and the workers run with the runtime's tiering delay off, unless the operator set it.</summary>
[Trait("Category", "EndToEnd")]
public sealed class RuntimeTuningTests
{
    [Fact]
    public async Task MasterAndWorker_StartedWithoutTheVariable_RunWithTheDelayOff_AnExplicitValueIsKept()
    {
        await using var cluster = await Cluster.StartAsync(0);
        var plain = cluster.StartWorker($"tuned-{cluster.MasterPort}");
        var chosen = cluster.StartWorker($"chosen-{cluster.MasterPort}", settings: new Dictionary<string, string> { [RuntimeTuning.CallCountingDelayVariable] = "250" });

        await cluster.WaitForWorkersAsync(2);

        // The pid the test started is the one serving (replaced in place, not a child), with the variable added once.
        Assert.Equal(["0"], Delay(cluster.Master!.Pid));
        Assert.Equal(["0"], Delay(plain.Pid));
        Assert.Equal(["250"], Delay(chosen.Pid));
        var (job, output) = await RunEchoAsync(cluster);
        Assert.Equal((TaskState.Succeeded, "tuned\n"), (job.State, output));
    }

    /// <summary>Every value the variable has in the process's environment.</summary>
    private static List<string> Delay(int pid) =>
        File.ReadAllText($"/proc/{pid}/environ").Split('\0')
            .Where(v => v.StartsWith(RuntimeTuning.CallCountingDelayVariable + "=", StringComparison.Ordinal))
            .Select(v => v[(RuntimeTuning.CallCountingDelayVariable.Length + 1)..]).ToList();

    private static async Task<(Job Job, string Output)> RunEchoAsync(Cluster cluster)
    {
        var spec = new JobSpec { Tasks = { new TaskSpec { Command = new CommandSpec { Program = "echo", Args = { "tuned" } } } } };
        var job = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;
        var done = await cluster.WaitForJobAsync(job.Id, TimeSpan.FromSeconds(60));
        var output = await cluster.Jobs.GetOutputAsync(new GetOutputRequest { JobId = job.Id });
        return (done, string.Concat(output.Chunks.Select(c => c.Data.ToStringUtf8())));
    }
}
