using System.Text.Json;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>
/// distctl with the manners of kubectl, gh, ssh and docker, against real processes: a mistyped option is a usage
/// error (never part of the command), Ctrl-C during run --wait cancels the job it started, output for scripts
/// (-o json|yaml|name, -q), job ids by unique prefix, wait for an earlier job, help without arguments.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class DistctlMannersTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private Cluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Run_MistypedOption_UsageErrorNamingTheNearestAndNothingSubmitted()
    {
        var before = (await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 1000 })).Jobs.Count;

        var typo = await Cluster.DistctlAsync("run", "--wiat", "--", "echo", "hi");

        Assert.True(typo.ExitCode == 2, typo.ToString());
        Assert.Contains("unknown option --wiat (did you mean --wait?)", typo.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, (await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 1000 })).Jobs.Count);

        // After -- every word is the program's, dashes included.
        var passed = await Cluster.DistctlAsync("run", "--wait", "--", "echo", "--wiat");
        Assert.True(passed.ExitCode == 0, passed.ToString());
        Assert.Equal("--wiat\n", passed.Stdout);
    }

    [Fact]
    public async Task RunWait_Interrupted_CancelsItsJobAndExits130()
    {
        var marker = $"{Random.Shared.Next(100, 999)}.{Random.Shared.Next(100000, 999999)}";
        await using var distctl = ChildProcess.Start("distctl", RepoPaths.Bin("distctl"), ["run", "--wait", "--", "sleep", marker], new Dictionary<string, string?>
        {
            ["MASTER_ADDRESS"] = Cluster.MasterAddress,
            ["API_TOKEN"] = null,
            ["DISTEXEC_TOKEN"] = null,
        });
        // The sleep runs when two processes carry the marker: distctl (its command line) and the task.
        await Eventually.Until(() => Processes.WithArgument(marker) == 2, Deadline, "the sleep running");
        var job = (await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 20, State = TaskState.Running })).Jobs
            .Select(j => Cluster.Jobs.GetJob(new GetJobRequest { JobId = j.Id }).Job)
            .Single(j => j.Tasks[0].Spec.Command.Args.Contains(marker));

        distctl.Signal(2);

        Assert.True(await distctl.WaitForExitAsync(Deadline), "distctl still running after SIGINT");
        Assert.True(distctl.ExitCode == 130, distctl.Output);
        Assert.Contains(job.Id, distctl.Output, StringComparison.Ordinal);
        Assert.Equal(TaskState.Canceled, (await Cluster.WaitForJobAsync(job.Id, Deadline)).State);
        await Eventually.Until(() => Processes.WithArgument(marker) == 0, Deadline, "the sleep gone");
    }

    [Fact]
    public async Task ReadVerbs_OutputForScripts_JsonYamlNameAndQuiet()
    {
        var submitted = await Cluster.DistctlAsync("run", "--label", "manners=yes", "--wait", "--", "true");
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        var id = (await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { ["manners"] = "yes" } })).Jobs.First().Id;

        var json = await Cluster.DistctlAsync("list", "--label", "manners=yes", "-o", "json");
        Assert.True(json.ExitCode == 0, json.ToString());
        using (var document = JsonDocument.Parse(json.Stdout))
        {
            Assert.Contains(document.RootElement.EnumerateArray(), j => j.GetProperty("id").GetString() == id && j.GetProperty("state").GetString() == "TASK_STATE_SUCCEEDED");
        }

        var yaml = await Cluster.DistctlAsync("status", id, "-o", "yaml");
        Assert.True(yaml.ExitCode == 0, yaml.ToString());
        var parsed = Deploy.Yaml.Documents(yaml.Stdout).Single();
        Assert.Equal(id, Deploy.Yaml.Text(parsed, "id"));
        Assert.Equal("yes", Deploy.Yaml.Text(parsed, "labels", "manners"));

        foreach (var args in new[] { new[] { "list", "--label", "manners=yes", "-o", "name" }, ["list", "--label", "manners=yes", "-q"] })
        {
            var names = await Cluster.DistctlAsync(args);
            Assert.True(names.ExitCode == 0, names.ToString());
            Assert.Contains(id, names.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.All(names.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.True(Guid.TryParse(line, out _), line));
        }

        var workers = await Cluster.DistctlAsync("workers", "-o", "json");
        using (var document = JsonDocument.Parse(workers.Stdout))
        {
            Assert.All(document.RootElement.EnumerateArray(), w => Assert.False(string.IsNullOrEmpty(w.GetProperty("workerId").GetString())));
            Assert.NotEqual(0, document.RootElement.GetArrayLength());
        }

        var bad = await Cluster.DistctlAsync("list", "-o", "xml");
        Assert.True(bad.ExitCode == 2, bad.ToString());
    }

    [Fact]
    public async Task JobIds_AUniquePrefixNamesTheJob_WaitExitsWithItsCode()
    {
        var first = await Cluster.DistctlAsync("run", "--", "sh", "-c", "exit 3");
        var second = await Cluster.DistctlAsync("run", "--", "true");
        var (a, b) = (first.Stdout.Trim(), second.Stdout.Trim());

        // Ids are random: two jobs in a row differ from their first characters.
        Assert.NotEqual(a[..4], b[..4]);

        var waited = await Cluster.DistctlAsync("wait", a[..8]);
        Assert.True(waited.ExitCode == 3, waited.ToString());
        Assert.Contains(a, waited.Stderr, StringComparison.Ordinal);

        var status = await Cluster.DistctlAsync("status", b[..8], "-o", "name");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Equal(b, status.Stdout.Trim());

        var none = await Cluster.DistctlAsync("status", "0000000");
        Assert.NotEqual(0, none.ExitCode);
        Assert.Contains("no job id starts with it", none.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_ClientAndServerAgreeWithTheBuild()
    {
        var props = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "Directory.Build.props"));
        var expected = System.Text.RegularExpressions.Regex.Match(props, "<Version>([^<]+)</Version>").Groups[1].Value;

        var version = await Cluster.DistctlAsync("version");

        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.Contains($"client: {expected}\n", version.Stdout, StringComparison.Ordinal);
        Assert.Contains($"server: {expected} (", version.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Distctl_WithoutArguments_PrintsHelp()
    {
        var bare = await Cluster.DistctlAsync();

        Assert.True(bare.ExitCode == 0, bare.ToString());
        Assert.Contains("run", bare.Stdout, StringComparison.Ordinal);
        Assert.Contains("wait", bare.Stdout, StringComparison.Ordinal);
    }
}
