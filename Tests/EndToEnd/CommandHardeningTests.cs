using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>The command executor's promises, through distctl, real workers and a real RabbitMQ.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class CommandHardeningTests(ClusterFixture fixture)
{
    private Cluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Run_BackgroundChildrenPastTimeout_TimedOutExitCodeAndNoProcessLeft()
    {
        var marker = $"999.{Random.Shared.Next(100000, 999999)}";

        var result = await Cluster.DistctlAsync("run", "--wait", "--timeout", "2s", "--", "bash", "-c", $"sleep {marker} & sleep {marker} & wait");

        Assert.True(result.ExitCode == 124, result.ToString());
        Assert.Contains("timed out", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, Processes.WithArgument(marker));
    }

    [Fact]
    public async Task Cancel_BackgroundChildren_CanceledAndNoProcessLeft()
    {
        var marker = $"999.{Random.Shared.Next(100000, 999999)}";
        var submitted = await Cluster.DistctlAsync("run", "--", "bash", "-c", $"sleep {marker} & sleep {marker} & wait");
        var jobId = submitted.Stdout.Trim();
        await Eventually.Until(() => Task.FromResult(Processes.WithArgument(marker)), n => n == 2, TimeSpan.FromSeconds(30), "both sleeps to start");

        var cancel = await Cluster.DistctlAsync("cancel", jobId);
        var job = await Cluster.WaitForJobAsync(jobId, TimeSpan.FromSeconds(15));

        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Equal(TaskState.Canceled, job.State);
        Assert.Null(job.Tasks[0].HasExitCode ? job.Tasks[0].ExitCode : null);
        await Eventually.Until(() => Task.FromResult(Processes.WithArgument(marker)), n => n == 0, TimeSpan.FromSeconds(5), "sleeps to be gone");
    }

    [Fact]
    public async Task Run_SignalDeath_RecordsSignalNotTimeout()
    {
        var result = await Cluster.DistctlAsync("run", "--wait", "--", "bash", "-c", "kill -SEGV $$");
        var jobs = await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 1 });
        var task = (await Cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = jobs.Jobs[0].Id })).Job.Tasks[0];

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal(TaskState.Failed, task.State);
        Assert.Equal(11, task.Signal);
    }

    [Fact]
    public async Task Run_TaskEnvironment_HoldsNoWorkerSecrets()
    {
        var result = await Cluster.DistctlAsync("run", "--wait", "-e", "MINE=1", "--", "env");

        Assert.True(result.ExitCode == 0, result.ToString());
        var names = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[..l.IndexOf('=', StringComparison.Ordinal)]).Order().ToList();
        Assert.Equal(["HOME", "LANG", "MINE", "PATH"], names);
        Assert.DoesNotContain("amqp", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ShellMetacharacters_AreLiteralArguments()
    {
        var result = await Cluster.DistctlAsync("run", "--wait", "--", "echo", "; rm -rf /", "$(id)", "`id`", "&& true");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("; rm -rf / $(id) `id` && true\n", result.Stdout);
    }

    [Fact]
    public async Task Run_BlockedProgramThroughPathTricks_RefusedAtSubmission()
    {
        using var dirFolder = new TempDirectory("distexec-trick-");
        var dir = dirFolder.FullName;
        File.CreateSymbolicLink(Path.Combine(dir, "innocent"), "/bin/rm");
        foreach (var argv in new[]
        {
            new[] { "/bin/../bin/rm", "-rf", "/tmp/x" },
            new[] { "/usr/bin/rm" },
            new[] { Path.Combine(dir, "innocent") },
            new[] { "rm" },
        })
        {
            var result = await Cluster.DistctlAsync(["run", "--wait", "--", .. argv]);
            Assert.True(result.ExitCode == 125, $"{argv[0]}: {result}");
            Assert.Contains("blocked", result.Stderr, StringComparison.Ordinal);
        }

        var viaPath = await Cluster.DistctlAsync("run", "--wait", "-e", $"PATH={dir}:/usr/bin:/bin", "--", "innocent", "/tmp/x");
        Assert.True(viaPath.ExitCode == 125, viaPath.ToString());
    }
}

/// <summary>A task writing a gibibyte: it finishes, keeps head and tail, and the worker stays small.</summary>
[Trait("Category", "EndToEnd")]
public sealed class HugeOutputTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task Run_OneGibibyteWithInterleavedStderr_FinishesTruncatedWorkerStaysUnder300MB()
    {
        await using var cluster = await Cluster.StartAsync(workers: 1);

        // 64 × 16 MiB of stdout, each followed by a line of stderr.
        var result = await cluster.DistctlAsync("run", "--wait", "--", "bash", "-c",
            "echo first-line; for i in $(seq 1 64); do head -c 16777216 /dev/zero | tr '\\0' x; echo \"err $i\" >&2; done; echo; echo last-line");

        Assert.True(result.ExitCode == 0, result.ToString()[..Math.Min(2000, result.ToString().Length)]);
        var jobs = await cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 1 });
        var task = (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = jobs.Jobs[0].Id })).Job.Tasks[0];
        Assert.True(task.Truncated);
        Assert.StartsWith("first-line\n", result.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("last-line\n", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("bytes of stdout cut here", result.Stdout, StringComparison.Ordinal);
        Assert.InRange(result.Stdout.Length, 10 * 1024 * 1024, 10 * 1024 * 1024 + 1024);
        Assert.Contains("err 64", result.Stderr, StringComparison.Ordinal);

        var peakKb = long.Parse(File.ReadAllLines($"/proc/{cluster.Workers[0].Pid}/status")
            .Single(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        output.WriteLine($"worker peak resident set: {peakKb / 1024} MiB");
        Assert.True(peakKb < 300 * 1024, $"worker peak resident {peakKb} kB");
    }
}
