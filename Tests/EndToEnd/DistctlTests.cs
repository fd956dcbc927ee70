using System.Text.Json;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>distctl against real bin/master and bin/worker processes on a real RabbitMQ.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class DistctlTests(ClusterFixture fixture)
{
    private Cluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Run_HelloWorldWithWait_PrintsOutputAndExitsZero()
    {
        var result = await Cluster.DistctlAsync("run", "--command", "echo", "--args", "hello world", "--wait");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("hello world\n", result.Stdout);
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public async Task Run_WithoutWait_PrintsJobIdThatStatusShowsSucceeded()
    {
        var submitted = await Cluster.DistctlAsync("run", "--command", "echo", "--args", "'single quoted' \"and double\" plain");
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        var jobId = submitted.Stdout.Trim();
        Assert.True(Guid.TryParse(jobId, out _), submitted.ToString());

        await Cluster.WaitForJobAsync(jobId, TimeSpan.FromSeconds(30));
        var status = await Cluster.DistctlAsync("status", jobId, "--output", "json");
        Assert.True(status.ExitCode == 0, status.ToString());
        using var json = JsonDocument.Parse(status.Stdout);
        Assert.Equal("TASK_STATE_SUCCEEDED", json.RootElement.GetProperty("state").GetString());
        var task = json.RootElement.GetProperty("tasks")[0];
        Assert.Equal(["single quoted", "and double", "plain"], task.GetProperty("spec").GetProperty("command").GetProperty("args").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(0, task.GetProperty("exitCode").GetInt32());
        Assert.Single(task.GetProperty("attempts").EnumerateArray());

        var logs = await Cluster.DistctlAsync("logs", jobId);
        Assert.Equal("single quoted and double plain\n", logs.Stdout);
    }

    [Fact]
    public async Task Run_ExitCodeThree_PropagatesWithStreamsApart()
    {
        var result = await Cluster.DistctlAsync("run", "--wait", "--", "sh", "-c", "echo out; echo err >&2; exit 3");

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Equal("out\n", result.Stdout);
        Assert.StartsWith("err\n", result.Stderr);

        var jobs = await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 1 });
        var job = (await Cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = jobs.Jobs[0].Id })).Job;
        Assert.Equal(TaskState.Failed, job.State);
        Assert.Equal(3, job.Tasks[0].ExitCode);
    }

    [Fact]
    public async Task Run_ArgumentsAfterDoubleDash_PassedExactlyWithoutShell()
    {
        var result = await Cluster.DistctlAsync("run", "--wait", "--", "printf", "%s|", "; rm -rf /", "$HOME", "a b", "*");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("; rm -rf /|$HOME|a b|*|", result.Stdout);
    }

    [Fact]
    public async Task Run_BlockedCommand_RefusedWithPermissionDeniedAndNeverPublished()
    {
        var before = await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 1000 });

        // A queue of the test's own bound to the pool's exchange sees every task message sent to the pool (the
        // pool's queue itself is drained by live workers, so its count would say nothing).
        await using var connection = await RabbitMqBroker.ConnectAsync(Cluster.BrokerUrl);
        await using var channel = await connection.CreateChannelAsync();
        var spy = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(spy, QueueNames.Tasks("default"), "");

        var viaDotDot = await Cluster.DistctlAsync("run", "--", "/bin/../bin/rm", "-rf", "/tmp/distexec-should-not-exist");
        var byName = await Cluster.DistctlAsync("run", "--command", "rm", "--args", "-rf /tmp/distexec-should-not-exist");

        foreach (var result in new[] { viaDotDot, byName })
        {
            Assert.True(result.ExitCode == 125, result.ToString());
            Assert.Contains("permission denied", result.Stderr, StringComparison.Ordinal);
            Assert.Contains("EXECUTOR_COMMAND_BLOCKED", result.Stderr, StringComparison.Ordinal);
        }

        var after = await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 1000 });
        Assert.Equal(before.Jobs.Count, after.Jobs.Count);
        Assert.Equal(0u, (await channel.QueueDeclarePassiveAsync(spy)).MessageCount);

        // The spy does see what is published: an allowed command lands in it.
        var allowed = await Cluster.DistctlAsync("run", "--wait", "--", "true");
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.Equal(1u, (await channel.QueueDeclarePassiveAsync(spy)).MessageCount);
    }

    [Fact]
    public async Task Cancel_RunningSleep_EndsWithinSecondsAndKillsProcess()
    {
        var marker = $"60.{Random.Shared.Next(100000, 999999)}";
        var submitted = await Cluster.DistctlAsync("run", "--", "sleep", marker);
        var jobId = submitted.Stdout.Trim();
        await Eventually.Until(() => Task.FromResult(Processes.WithArgument(marker)), n => n == 1, TimeSpan.FromSeconds(30), "sleep to start");

        var started = DateTime.UtcNow;
        var cancel = await Cluster.DistctlAsync("cancel", jobId);
        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        var job = await Cluster.WaitForJobAsync(jobId, TimeSpan.FromSeconds(10));

        Assert.Equal(TaskState.Canceled, job.State);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        await Eventually.Until(() => Task.FromResult(Processes.WithArgument(marker)), n => n == 0, TimeSpan.FromSeconds(5), "sleep to be gone");

        var wait = await Cluster.DistctlAsync("logs", jobId, "-f");
        Assert.Equal(130, wait.ExitCode);
    }

    [Fact]
    public async Task Run_Timeout_RecordsTimedOutAndExits124()
    {
        var result = await Cluster.DistctlAsync("run", "--timeout", "1s", "--wait", "--", "sh", "-c", "echo begun; sleep 30");

        Assert.True(result.ExitCode == 124, result.ToString());
        Assert.Equal("begun\n", result.Stdout);
        Assert.Contains("timed out", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_MissingProgram_ExitsCouldNotStart()
    {
        var result = await Cluster.DistctlAsync("run", "--wait", "--", "distexec-no-such-program");

        Assert.True(result.ExitCode == 126, result.ToString());
        Assert.Contains("could not start", result.Stderr, StringComparison.Ordinal);
        var job = (await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 1 })).Jobs.Single();
        var task = (await Cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id })).Job.Tasks.Single();
        Assert.Equal(DistributedExecutor.Contracts.V1.FailureKind.CouldNotStart, task.FailureKind);
        Assert.Equal(DistributedExecutor.Contracts.V1.FailureKind.CouldNotStart, task.Attempts.Single().FailureKind);
    }

    [Fact]
    public async Task Workers_ListsBothDefaultPoolWorkersAlive()
    {
        // Right after a master restart (another test) workers reappear with their next heartbeat.
        var result = await Eventually.Until(
            () => Cluster.DistctlAsync("workers", "--pool", "default"),
            r => r.ExitCode == 0 && r.Stdout.Split('\n').Count(line => line.Contains("Alive", StringComparison.Ordinal)) == 2,
            TimeSpan.FromSeconds(15), "two default workers listed alive");

        Assert.DoesNotContain("drain", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_UnknownJob_SaysNotFound()
    {
        var result = await Cluster.DistctlAsync("status", Guid.NewGuid().ToString());

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("not found", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
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
