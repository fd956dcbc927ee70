using System.Text.RegularExpressions;
using System.Globalization;
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
        await using var distctl = StartDistctl("run", "--wait", "--", "sleep", marker);
        // The sleep runs when two processes carry the marker: distctl (its command line) and the task.
        await Eventually.Until(() => Processes.WithArgument(marker) == 2, Deadline, "the sleep running");
        var job = await RunningJobWithAsync(marker);

        distctl.Signal(2);

        Assert.True(await distctl.WaitForExitAsync(Deadline), "distctl still running after SIGINT");
        Assert.True(distctl.ExitCode == 130, distctl.Output);
        Assert.Contains(job.Id, distctl.Output, StringComparison.Ordinal);
        Assert.Equal(TaskState.Canceled, (await Cluster.WaitForJobAsync(job.Id, Deadline)).State);
        await Eventually.Until(() => Processes.WithArgument(marker) == 0, Deadline, "the sleep gone");
    }

    [Fact]
    public async Task RunWait_SecondInterrupt_ExitsAtOnceSayingHowToCancel()
    {
        // A task that ignores TERM: the first interrupt's cancel takes its grace period, the second does not wait.
        var marker = $"{Random.Shared.Next(100, 999)}.{Random.Shared.Next(100000, 999999)}";
        await using var distctl = StartDistctl("run", "--wait", "--", "sh", "-c", "trap '' TERM; sleep $0; sleep $0", marker);
        await Eventually.Until(() => Processes.WithArgument(marker) >= 2, Deadline, "the task running");
        var job = await RunningJobWithAsync(marker);

        distctl.Signal(2);
        await Eventually.Until(() => distctl.Output.Contains($"canceling job {job.Id}; Ctrl-C again", StringComparison.Ordinal), Deadline, "the first interrupt handled");
        var second = System.Diagnostics.Stopwatch.StartNew();
        distctl.Signal(2);

        Assert.True(await distctl.WaitForExitAsync(TimeSpan.FromSeconds(5)), "distctl still running after a second SIGINT");
        Assert.True(second.Elapsed < TimeSpan.FromSeconds(5), $"exited {second.Elapsed} after the second SIGINT");
        Assert.True(distctl.ExitCode == 130, distctl.Output);
        Assert.Contains($"cancel it with: distctl cancel {job.Id}", distctl.Output, StringComparison.Ordinal);
        await Cluster.Jobs.CancelJobAsync(new CancelJobRequest { JobId = job.Id });
    }

    [Fact]
    public async Task WorkflowWait_Interrupted_CancelsTheRunsJobsAndExits130()
    {
        var marker = $"{Random.Shared.Next(100, 999)}.{Random.Shared.Next(100000, 999999)}";
        using var folder = new TempDirectory("distexec-workflow-interrupt-");
        await File.WriteAllTextAsync(folder.File("w.yaml"), $$"""
            workflow: interrupted
            jobs:
              long: { tasks: [{ command: { program: sleep, args: ["{{marker}}"] } }] }
              after: { needs: [long], afterCondition: AFTER_CONDITION_FINISHED, tasks: [{ command: { program: echo, args: [never] } }] }
            """);
        await using var distctl = StartDistctl("run", "-f", folder.File("w.yaml"), "--wait");
        var job = await RunningJobWithAsync(marker);

        distctl.Signal(2);

        Assert.True(await distctl.WaitForExitAsync(Deadline), "distctl still running after SIGINT");
        Assert.True(distctl.ExitCode == 130, distctl.Output);
        Assert.Contains("canceling workflow interrupted run", distctl.Output, StringComparison.Ordinal);
        Assert.Equal(TaskState.Canceled, (await Cluster.WaitForJobAsync(job.Id, Deadline)).State);
        var after = (await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { ["workflow-run"] = job.Labels["workflow-run"], ["workflow-job"] = "after" } })).Jobs.Single();
        var ended = await Cluster.WaitForJobAsync(after.Id, Deadline);
        Assert.Equal(TaskState.Canceled, ended.State);
        Assert.Empty(ended.Tasks[0].Attempts);
        await Eventually.Until(() => Processes.WithArgument(marker) == 0, Deadline, "the sleep gone");
    }

    /// <summary>distctl as a child process of its own (so a test can signal it), against the shared cluster.</summary>
    private ChildProcess StartDistctl(params string[] args) => ChildProcess.Start("distctl", RepoPaths.Bin("distctl"), args, new Dictionary<string, string?>
    {
        ["MASTER_ADDRESS"] = Cluster.MasterAddress,
        ["API_TOKEN"] = null,
        ["DISTEXEC_TOKEN"] = null,
    });

    /// <summary>The running job whose command carries <paramref name="marker"/>, once the master sees it running.</summary>
    private async Task<Job> RunningJobWithAsync(string marker) => (await Eventually.Until(
        async () => (await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 20, State = TaskState.Running })).Jobs
            .Select(j => Cluster.Jobs.GetJob(new GetJobRequest { JobId = j.Id }).Job)
            .SingleOrDefault(j => j.Tasks[0].Spec.Command.Args.Contains(marker)),
        j => j is not null, Deadline, "its job running in the master's view"))!;

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

        var pools = await Cluster.DistctlAsync("pools", "-o", "json");
        using (var document = JsonDocument.Parse(pools.Stdout))
        {
            var pool = Assert.Single(document.RootElement.EnumerateArray(), p => p.GetProperty("name").GetString() == "default");
            Assert.True(pool.GetProperty("workersAlive").GetInt32() > 0, pools.Stdout);
        }

        // The cluster is shared with other tests, which may have pools of their own.
        Assert.Contains("default", (await Cluster.DistctlAsync("pools", "-q")).Stdout.Split('\n'));
        Assert.Matches(@"^POOL +QUEUED +RUNNING +WORKERS +CAPACITY\n(.*\n)*default +\d+ +\d+ +[1-9]\d* +\d+\n", (await Cluster.DistctlAsync("pools")).Stdout);

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
    public async Task JobIds_APrefixOfSeveralJobs_IsAnErrorNamingThem()
    {
        // A master of its own, no workers: random ids, submitted until two share their first four characters.
        await using var cluster = await Cluster.StartAsync(0, new Dictionary<string, string> { ["MAX_CONCURRENT_JOBS"] = "5000" });
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        (string, string)? pair = null;
        while (pair is null && seen.Count < 4000)
        {
            var id = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = new JobSpec { Tasks = { new TaskSpec { Command = new CommandSpec { Program = "true" } } } } })).Job.Id;
            pair = seen.TryGetValue(id[..4], out var other) ? (other, id) : null;
            seen[id[..4]] = id;
        }

        var (first, second) = pair ?? throw new InvalidOperationException($"no two of {seen.Count} random ids shared four characters");
        var ambiguous = await cluster.DistctlAsync("status", first[..4]);

        Assert.Equal(125, ambiguous.ExitCode); // the master refused the request (INVALID_ARGUMENT)
        Assert.Contains($"job id prefix {first[..4]} is ambiguous", ambiguous.Stderr, StringComparison.Ordinal);
        Assert.Contains(first, ambiguous.Stderr, StringComparison.Ordinal);
        Assert.Contains(second, ambiguous.Stderr, StringComparison.Ordinal);
        var longer = first.TakeWhile((c, i) => i < second.Length && second[i] == c).Count() + 1;
        Assert.Equal(first, (await cluster.DistctlAsync("status", first[..longer], "-o", "name")).Stdout.Trim());
    }

    [Fact]
    public async Task Times_WithDateAndTheLocalZone()
    {
        var id = (await Cluster.DistctlAsync("run", "--wait", "--label", "zone-test=yes", "--", "true")).Stdout;
        var job = (await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { ["zone-test"] = "yes" } })).Jobs[0];
        Assert.True(File.Exists("/usr/share/zoneinfo/Asia/Tokyo"), "tzdata is missing: apt-get install tzdata (make test installs it as root)");

        var inTokyo = await ProcessRunner.RunAsync(RepoPaths.Bin("distctl"), ["status", job.Id], new Dictionary<string, string?>
        {
            ["MASTER_ADDRESS"] = Cluster.MasterAddress, ["API_TOKEN"] = null, ["DISTEXEC_TOKEN"] = null, ["TZ"] = "Asia/Tokyo",
        });

        var created = job.CreatedAt.ToDateTimeOffset().ToOffset(TimeSpan.FromHours(9));
        Assert.Contains($"Created:   {created:yyyy-MM-dd HH:mm:ss}+09:00", inTokyo.Stdout, StringComparison.Ordinal);
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
    public async Task Logs_OfABatch_PrefixedByItem_FilteredByItemTaskStreamAndTail()
    {
        var run = await Cluster.DistctlAsync("run", "--wait", "--items", "a", "b", "c", "--", "sh", "-c", "for n in 1 2 3; do echo {}-$n; done; echo {}-err >&2");
        Assert.True(run.ExitCode == 0, run.ToString());
        var id = (await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 1 })).Jobs[0].Id;

        var all = await Cluster.DistctlAsync("logs", id);
        Assert.True(all.ExitCode == 0, all.ToString());
        Assert.Equal(9, all.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("[b] b-2\n", all.Stdout, StringComparison.Ordinal);
        Assert.Contains("[c] c-err\n", all.Stderr, StringComparison.Ordinal);

        var onlyB = await Cluster.DistctlAsync("logs", id, "--item", "b", "--stdout");
        Assert.Equal("[b] b-1\n[b] b-2\n[b] b-3\n", onlyB.Stdout);
        Assert.Equal("", onlyB.Stderr);

        var errOfFirst = await Cluster.DistctlAsync("logs", id, "--task", "0", "--stderr");
        Assert.Equal(("", "[a] a-err\n"), (errOfFirst.Stdout, errOfFirst.Stderr));

        var tail = await Cluster.DistctlAsync("logs", id, "--item", "c", "--stdout", "--tail", "2");
        Assert.Equal("[c] c-2\n[c] c-3\n", tail.Stdout);

        var missing = await Cluster.DistctlAsync("logs", id, "--item", "zzz");
        Assert.True(missing.ExitCode == 2, missing.ToString());
    }

    [Fact]
    public async Task Status_OfABigJob_SummarisesUnlessAskedForEveryTask()
    {
        var items = Enumerable.Range(1, 25).Select(i => $"i{i}").ToArray();
        var run = await Cluster.DistctlAsync(["run", "--wait", "--items", .. items, "--", "true"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        var id = (await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 1 })).Jobs[0].Id;

        var summary = await Cluster.DistctlAsync("status", id);
        Assert.Contains("Tasks:     25 Succeeded", summary.Stdout, StringComparison.Ordinal);
        Assert.Contains("Slowest:", summary.Stdout, StringComparison.Ordinal);
        Assert.Contains("(25 tasks: every one with --tasks", summary.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Task 24:", summary.Stdout, StringComparison.Ordinal);

        var every = await Cluster.DistctlAsync("status", id, "--tasks");
        Assert.Contains("Task 24:", every.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunFile_YamlOrJsonJobSpec_SubmittedWhole_UnknownFieldsAndMixedFlagsRefused()
    {
        using var dir = new TempDirectory("distexec-jobfile-");
        var yaml = Path.Combine(dir.FullName, "job.yaml");
        await File.WriteAllTextAsync(yaml, """
            # Every field the JSON API has, in YAML.
            labels: { source: file }
            maxParallel: 1
            tasks:
              - item: one
                command: { program: echo, args: ["from yaml", "1"] }
              - item: two
                timeout: 30s
                command: { program: sh, args: [-c, "echo two; exit 0"] }
            """);
        var run = await Cluster.DistctlAsync("run", "-f", yaml, "--wait");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("[one] from yaml 1\n", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("[two] two\n", run.Stdout, StringComparison.Ordinal);
        var job = (await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { ["source"] = "file" } })).Jobs.Single();
        Assert.Equal(1, job.MaxParallel);

        var json = Path.Combine(dir.FullName, "job.json");
        await File.WriteAllTextAsync(json, """{"tasks":[{"command":{"program":"echo","args":["from json"]}}]}""");
        var fromJson = await Cluster.DistctlAsync("run", "-f", json, "--wait");
        Assert.Equal("from json\n", fromJson.Stdout);

        var typo = Path.Combine(dir.FullName, "typo.yaml");
        await File.WriteAllTextAsync(typo, "tasks:\n  - comand: { program: echo }\n");
        var refused = await Cluster.DistctlAsync("run", "-f", typo);
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("comand", refused.Stderr, StringComparison.Ordinal);

        var mixed = await Cluster.DistctlAsync("run", "-f", json, "--pool", "default");
        Assert.True(mixed.ExitCode == 2, mixed.ToString());
        Assert.Contains("--pool goes into the file", mixed.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Contexts_NamedMastersInTheConfigFile_FlagsAndVariablesWin()
    {
        using var dir = new TempDirectory("distexec-config-");
        var config = Path.Combine(dir.FullName, "config.yaml");
        await File.WriteAllTextAsync(config, $"""
            current-context: nowhere
            contexts:
              here: {"{"} master: "{Cluster.MasterAddress}" {"}"}
              nowhere: {"{"} master: "127.0.0.1:1" {"}"}
            """);
        Task<CliResult> Distctl(Dictionary<string, string?> variables, params string[] args) =>
            ProcessRunner.RunAsync(RepoPaths.Bin("distctl"), args, new Dictionary<string, string?>(variables)
            {
                ["DISTEXEC_CONFIG"] = config,
                ["API_TOKEN"] = null,
                ["DISTEXEC_TOKEN"] = null,
                ["DISTEXEC_TOKEN_FILE"] = null,
                ["DISTEXEC_CA_CERT"] = null,
            });
        var none = new Dictionary<string, string?> { ["MASTER_ADDRESS"] = null, ["DISTEXEC_MASTER"] = null, ["DISTEXEC_CONTEXT"] = null };

        Assert.Equal(69, (await Distctl(none, "list")).ExitCode);
        var picked = await Distctl(none, "--context", "here", "list", "-q");
        Assert.True(picked.ExitCode == 0, picked.ToString());
        var byVariable = await Distctl(new(none) { ["DISTEXEC_CONTEXT"] = "here" }, "list", "-q");
        Assert.True(byVariable.ExitCode == 0, byVariable.ToString());
        var variableWins = await Distctl(new(none) { ["DISTEXEC_MASTER"] = Cluster.MasterAddress }, "list", "-q");
        Assert.True(variableWins.ExitCode == 0, variableWins.ToString());

        var unknown = await Distctl(none, "--context", "elsewhere", "list");
        Assert.True(unknown.ExitCode == 2, unknown.ToString());
        Assert.Contains("it has: here, nowhere", unknown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rerun_FailedTasksOrAll_AsANewJobLinkedToTheFirst()
    {
        var first = await Cluster.DistctlAsync("run", "--label", "rerun-test=yes", "--wait", "--items", "a", "b", "c", "--", "sh", "-c", "echo ran-$0; test $0 != b", "{}");
        Assert.True(first.ExitCode != 0, first.ToString());
        var original = (await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { ["rerun-test"] = "yes" } })).Jobs.Single();

        var failedOnly = await Cluster.DistctlAsync("rerun", original.Id[..8], "--failed", "--wait");
        Assert.True(failedOnly.ExitCode != 0, failedOnly.ToString());
        Assert.Equal("[b] ran-b\n", failedOnly.Stdout);

        var all = await Cluster.DistctlAsync("rerun", original.Id);
        Assert.True(all.ExitCode == 0, all.ToString());
        var again = await Cluster.WaitForJobAsync(all.Stdout.Trim(), Deadline);
        Assert.Equal(["a", "b", "c"], again.Tasks.OrderBy(t => t.Index).Select(t => t.Spec.Item));

        var linked = (await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { ["rerun-of"] = original.Id } })).Jobs;
        Assert.Equal(2, linked.Count);
        Assert.All(linked, j => Assert.Equal("yes", j.Labels["rerun-test"]));
    }

    [Fact]
    public async Task RunWait_BatchOnATerminal_ShowsAProgressLine_NotInAPipeNorWithQuiet()
    {
        string[] run = ["run", "--wait", "--max-parallel", "2", "--items", "1", "2", "3", "4", "5", "6", "7", "8", "--", "sh", "-c", "sleep 0.5; echo item-$0", "{}"];
        // script(1) gives distctl a terminal, as a person's shell would.
        Task<CliResult> OnATerminal(string extra) => ProcessRunner.RunAsync("script", ["-qec", $"{RepoPaths.Bin("distctl")} run {extra} {string.Join(' ', run.Skip(1).Select(a => $"'{a}'"))}", "/dev/null"],
            new Dictionary<string, string?> { ["MASTER_ADDRESS"] = Cluster.MasterAddress, ["API_TOKEN"] = null, ["DISTEXEC_TOKEN"] = null, ["TERM"] = "xterm" });

        var terminal = await OnATerminal("");
        Assert.True(terminal.ExitCode == 0, terminal.ToString());
        Assert.Matches(@"\d+/8 done \(0 failed\), \d+ running, \d+ queued, [\d.]+/s", terminal.Stdout);
        Assert.Contains("[8] item-8", terminal.Stdout, StringComparison.Ordinal);

        var quiet = await OnATerminal("--quiet");
        Assert.DoesNotContain("/8 done", quiet.Stdout, StringComparison.Ordinal);

        var piped = await Cluster.DistctlAsync(run);
        Assert.True(piped.ExitCode == 0, piped.ToString());
        Assert.DoesNotContain("/8 done", piped.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task States_ColouredOnATerminal_NotWithNoColorNorInAPipe()
    {
        var failed = (await Cluster.DistctlAsync("run", "--label", "colour-test=yes", "--", "false")).Stdout.Trim();
        await Cluster.WaitForJobAsync(failed, Deadline);
        Task<CliResult> OnATerminal(string? noColor) => ProcessRunner.RunAsync("script", ["-qec", $"{RepoPaths.Bin("distctl")} list --label colour-test=yes", "/dev/null"],
            new Dictionary<string, string?> { ["MASTER_ADDRESS"] = Cluster.MasterAddress, ["API_TOKEN"] = null, ["DISTEXEC_TOKEN"] = null, ["TERM"] = "xterm", ["NO_COLOR"] = noColor });

        var coloured = await OnATerminal(null);
        Assert.True(coloured.ExitCode == 0, coloured.ToString());
        Assert.Contains("\u001b[31mFailed\u001b[0m", coloured.Stdout, StringComparison.Ordinal);
        // The padding stays outside the colour: the next column starts where it would without it.
        Assert.Matches(@"\u001b\[31mFailed\u001b\[0m {3}  default ", coloured.Stdout);

        var noColour = await OnATerminal("1");
        Assert.Contains("Failed", noColour.Stdout, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"\u001b\[\d*m", noColour.Stdout);

        var piped = await Cluster.DistctlAsync("list", "--label", "colour-test=yes");
        Assert.Contains("Failed", piped.Stdout, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"\u001b\[\d*m", piped.Stdout);
    }

    [Fact]
    public async Task Logs_TimestampsFromTheWorker_SinceKeepsOnlyLaterOutput()
    {
        var id = (await Cluster.DistctlAsync("run", "--", "sh", "-c", "echo early; sleep 2; echo late >&2")).Stdout.Trim();
        await Cluster.WaitForJobAsync(id, Deadline);

        var stamped = await Cluster.DistctlAsync("logs", id, "--timestamps");
        Assert.True(stamped.ExitCode == 0, stamped.ToString());
        var early = Regex.Match(stamped.Stdout, @"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d) early\n$");
        var late = Regex.Match(stamped.Stderr, @"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d) late\n$");
        Assert.True(early.Success && late.Success, stamped.ToString());
        var (earlyAt, lateAt) = (DateTimeOffset.Parse(early.Groups[1].Value, CultureInfo.InvariantCulture), DateTimeOffset.Parse(late.Groups[1].Value, CultureInfo.InvariantCulture));
        Assert.InRange(lateAt - earlyAt, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(30));

        var between = (earlyAt + TimeSpan.FromSeconds(1)).ToString("O", CultureInfo.InvariantCulture);
        var since = await Cluster.DistctlAsync("logs", id, "--since", between);
        Assert.True(since.ExitCode == 0, since.ToString());
        Assert.Equal(("", "late\n"), (since.Stdout, since.Stderr));
        var hour = await Cluster.DistctlAsync("logs", id, "--since", "1h");
        Assert.Equal(("early\n", "late\n"), (hour.Stdout, hour.Stderr));
        var wrong = await Cluster.DistctlAsync("logs", id, "--since", "yesterday");
        Assert.True(wrong.ExitCode == 2, wrong.ToString());
    }

    [Fact]
    public async Task List_SearchFindsACommandsTextOrAnItem_WideShowsTheCommand()
    {
        var byCommand = (await Cluster.DistctlAsync("run", "--", "echo", "nightly-Backup-42")).Stdout.Trim();
        var byItem = (await Cluster.DistctlAsync("run", "--items", "vault-9", "--", "echo", "{}")).Stdout.Trim();

        Assert.Equal(byCommand + "\n", (await Cluster.DistctlAsync("list", "--search", "BACKUP-42", "-q")).Stdout);
        Assert.Equal(byItem + "\n", (await Cluster.DistctlAsync("list", "--search", "vault-9", "-q")).Stdout);
        Assert.Contains("echo nightly-Backup-42", (await Cluster.DistctlAsync("list", "--search", "backup-42", "-o", "wide")).Stdout, StringComparison.Ordinal);
        Assert.Empty((await Cluster.DistctlAsync("list", "--search", "no-such-thing-anywhere", "-q")).Stdout);
    }

    [Fact]
    public async Task Distctl_WithoutArguments_PrintsHelp()
    {
        var bare = await Cluster.DistctlAsync();

        Assert.True(bare.ExitCode == 0, bare.ToString());
        Assert.Contains("run", bare.Stdout, StringComparison.Ordinal);
        Assert.Contains("wait", bare.Stdout, StringComparison.Ordinal);
        Assert.Contains("Examples:\n  distctl run --wait -- echo hello world\n", bare.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunHelp_OptionsInGroups_EachOnce_ConnectionLast()
    {
        var help = (await Cluster.DistctlAsync("run", "--help")).Stdout;

        string Section(string title) => help[(help.IndexOf(title + ":\n", StringComparison.Ordinal) + title.Length + 2)..].Split("\n\n")[0];
        Assert.Contains("--http <http>", Section("HTTP calls"), StringComparison.Ordinal);
        Assert.Contains("--max-parallel <max-parallel>", Section("Batches and limits"), StringComparison.Ordinal);
        Assert.Contains("-w, --wait", Section("Waiting"), StringComparison.Ordinal);
        Assert.Contains("--token <token>", Section("Connection (every verb)"), StringComparison.Ordinal);
        Assert.True(help.IndexOf("Connection (every verb):", StringComparison.Ordinal) > help.IndexOf("Waiting:", StringComparison.Ordinal));
        Assert.DoesNotContain("\nOptions:\n", help, StringComparison.Ordinal);

        // Regrouping loses and repeats nothing: every option of run, and the global ones, exactly once.
        var optionLines = help.Split('\n').Where(l => l.StartsWith("  -", StringComparison.Ordinal)).Select(l => l.Trim().Split("  ")[0]).ToList();
        Assert.Equal(optionLines.Count, optionLines.Distinct().Count());
        foreach (var option in (string[])["--command", "--args", "--env", "--workdir", "--file", "--executor", "--param", "--http", "--method", "--header", "--data", "--data-file",
            "--expect", "--response-cap", "--pool", "--timeout", "--all-workers", "--where", "--at", "--in", "--after", "--after-condition", "--concurrency-key", "--priority", "--label", "--idempotency-key", "--retries", "--backoff", "--max-backoff", "--retry-on",
            "--items", "--items-file", "--max-parallel", "--max-errors", "--group", "--wait", "--quiet", "--master", "--token", "--token-file", "--ca-cert", "--context", "--help"])
        {
            Assert.Single(optionLines, l => l.Split(", ").Any(n => n.Split(' ')[0] == option));
        }

        Assert.Equal(43, optionLines.Count);
    }

    [Theory]
    [InlineData("run", "distctl run --items a b c --wait -- echo item {}")]
    [InlineData("logs", "distctl logs -f <job-id>")]
    [InlineData("list", "distctl list --label team=data --submitted-by alice")]
    [InlineData("token new", "distctl token new alice operator")]
    public async Task EveryVerbsHelp_EndsWithExamples_EvenWithItsArgumentsMissing(string verb, string example)
    {
        var help = await Cluster.DistctlAsync([.. verb.Split(' '), "--help"]);

        Assert.True(help.ExitCode == 0, help.ToString());
        var examples = help.Stdout.IndexOf("Examples:", StringComparison.Ordinal);
        Assert.True(examples > 0 && help.Stdout.IndexOf("Options:", StringComparison.Ordinal) < examples, help.Stdout);
        Assert.Contains("  " + example, help.Stdout[examples..], StringComparison.Ordinal);
    }
}
