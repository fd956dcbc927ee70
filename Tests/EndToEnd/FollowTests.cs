using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary><c>distctl logs -f</c> against a master that is not there yet: it waits for one instead of giving up.</summary>
[Trait("Category", "EndToEnd")]
public sealed class FollowTests
{
    /// <summary>
    /// The master behind the address (a <see cref="TcpFront"/>, as a Kubernetes Service) is killed before the
    /// follower's first call: the front accepts the connection and drops it, as a Service does while its endpoint dies.
    /// The follower keeps trying, says so once, and when the master is back prints every line once and exits with the
    /// job. (It used to exit 69 on that first call, and a two-master chaos round failed on it.)
    /// </summary>
    [Fact]
    public async Task LogsFollow_MasterDownAtTheFirstCall_WaitsForItAndPrintsEveryLineOnce()
    {
        await using var cluster = await Cluster.StartAsync(1);
        await using var front = TcpFront.Start([cluster.MasterAddress]);
        var spec = new JobSpec();
        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", "echo before-kill; sleep 3; echo after-kill" } } });
        var jobId = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job.Id;
        await cluster.WaitForJobAsync(jobId, j => j.Tasks[0].State == TaskState.Running, TimeSpan.FromSeconds(30), "the task to start");

        cluster.Master!.Signal(9);
        Assert.True(await cluster.Master.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        var follower = cluster.DistctlAsync("--master", front.Address, "logs", "-f", jobId);

        // Its first call and at least one more reached the front while no master was behind it (or it gave up).
        await Eventually.Until(() => front.Accepted >= 2 || follower.IsCompleted, TimeSpan.FromSeconds(60), "the follower to try the front twice");
        Assert.False(follower.IsCompleted, $"the follower gave up while the master was down: {(follower.IsCompleted ? (await follower).ToString() : "")}");

        await cluster.StartMasterAsync();
        var followed = await follower.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.True(followed.ExitCode == 0, followed.ToString());
        Assert.Equal("before-kill\nafter-kill\n", followed.Stdout);
        Assert.Contains("cannot reach the master", followed.Stderr, StringComparison.Ordinal);
        Assert.Single(followed.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => line.Contains("trying again", StringComparison.Ordinal));
    }
}
