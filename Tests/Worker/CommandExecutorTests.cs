using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Executors;
using DistributedExecutor.Executors.Command;
using DistributedExecutor.Executors.Isolation;
using System.Globalization;
using DistributedExecutor.Tests.Fixtures;
using DistributedExecutor.Worker.Options;
using Microsoft.Extensions.Logging.Abstractions;

namespace DistributedExecutor.Tests.Worker;

/// <summary>The command executor with real processes.</summary>
public sealed class CommandExecutorTests
{
    private static readonly ExecutorOptions Options = new() { KillGraceSeconds = 1 };

    [Fact]
    public async Task Execute_ExitCode_ReportedWithStreamsApart()
    {
        var sink = new RecordingSink();

        var result = await Executor().ExecuteAsync(Task("sh", "-c", "echo out; echo err >&2; exit 3"), sink, CancellationToken.None);

        Assert.Equal(TaskOutcome.Failed, result.Outcome);
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("out\n", sink.Stdout);
        Assert.Equal("err\n", sink.Stderr);
    }

    [Fact]
    public async Task Execute_Argv_NeverThroughAShell()
    {
        var sink = new RecordingSink();

        var result = await Executor().ExecuteAsync(Task("printf", "%s\n", "; rm -rf /", "$(id)", "-c"), sink, CancellationToken.None);

        Assert.Equal(TaskOutcome.Succeeded, result.Outcome);
        Assert.Equal("; rm -rf /\n$(id)\n-c\n", sink.Stdout);
    }

    [Fact]
    public async Task Execute_Environment_MinimalPlusSpec()
    {
        Environment.SetEnvironmentVariable("DISTEXEC_SECRET_FOR_TEST", "leak");
        var sink = new RecordingSink();
        var task = Task("env") with { Command = new CommandTask("env", [], new Dictionary<string, string> { ["GREETING"] = "hi" }, null) };

        await Executor().ExecuteAsync(task, sink, CancellationToken.None);

        Assert.Contains("GREETING=hi\n", sink.Stdout, StringComparison.Ordinal);
        Assert.Contains("PATH=", sink.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("DISTEXEC_SECRET_FOR_TEST", sink.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("RABBITMQ", sink.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_Timeout_KillsWholeTreeAndReportsTimedOut()
    {
        var marker = $"97.{Random.Shared.Next(100000, 999999)}";
        var task = Task("bash", "-c", $"sleep {marker} & sleep {marker} & wait") with { Timeout = TimeSpan.FromSeconds(1) };

        var result = await Executor().ExecuteAsync(task, new RecordingSink(), CancellationToken.None);

        Assert.Equal(TaskOutcome.TimedOut, result.Outcome);
        Assert.Null(result.ExitCode);
        await Eventually.Until(() => Processes.WithArgument(marker) == 0, TimeSpan.FromSeconds(5), "children gone");
    }

    [Fact]
    public async Task Execute_Cancel_KillsProcessThatIgnoresTerm()
    {
        var marker = $"98.{Random.Shared.Next(100000, 999999)}";
        using var cts = new CancellationTokenSource();
        var running = Executor().ExecuteAsync(Task("bash", "-c", $"trap '' TERM; sleep {marker}; :"), new RecordingSink(), cts.Token);
        await Eventually.Until(() => Processes.WithArgument(marker) == 1, TimeSpan.FromSeconds(10), "sleep started");

        await cts.CancelAsync();
        var result = await running;

        Assert.Equal(TaskOutcome.Canceled, result.Outcome);
        await Eventually.Until(() => Processes.WithArgument(marker) == 0, TimeSpan.FromSeconds(5), "sleep gone");
    }

    [Fact]
    public async Task Execute_ImmediateStop_KillsEveryProcessWithoutTheGrace()
    {
        var marker = $"97.{Random.Shared.Next(100000, 999999)}";
        var patient = new CommandExecutor(new ExecutorOptions { KillGraceSeconds = 600 }, new CommandPolicy(new CommandExecutorOptions()), TestIsolation.Shared, TimeProvider.System, NullLogger<CommandExecutor>.Instance);
        using var graceful = new CancellationTokenSource();
        using var immediate = new CancellationTokenSource();
        var running = patient.ExecuteAsync(Task("bash", "-c", $"trap '' TERM; setsid sleep {marker} & sleep {marker}; :"), new RecordingSink(), new TaskStop(graceful.Token, immediate.Token));
        await Eventually.Until(() => Processes.WithArgument(marker) == 2, TimeSpan.FromSeconds(10), "both sleeps started");

        // As a lost broker link does: both at once. The graceful path alone would wait out 600 s of grace.
        await graceful.CancelAsync();
        await immediate.CancelAsync();
        var result = await running.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(TaskOutcome.Canceled, result.Outcome);
        // Killed at once, then reaped (a zombie counts as not gone) within moments, not after the grace.
        await Eventually.Until(() => Processes.WithArgument(marker) == 0, TimeSpan.FromSeconds(5), "both sleeps gone and reaped");
    }

    [Fact]
    public async Task Execute_BackgroundChildAfterExit_DoesNotHangOrSurvive()
    {
        var marker = $"96.{Random.Shared.Next(100000, 999999)}";
        var result = await Executor().ExecuteAsync(Task("sh", "-c", $"sleep {marker} & echo left"), new RecordingSink(), CancellationToken.None);

        Assert.Equal(TaskOutcome.Succeeded, result.Outcome);
        await Eventually.Until(() => Processes.WithArgument(marker) == 0, TimeSpan.FromSeconds(5), "background child gone");
    }

    [Fact]
    public async Task Execute_SignalDeath_RecordsSignal()
    {
        var result = await Executor().ExecuteAsync(Task("sh", "-c", "kill -9 $$"), new RecordingSink(), CancellationToken.None);

        Assert.Equal(TaskOutcome.Failed, result.Outcome);
        Assert.Equal(9, result.Signal);
    }

    [Fact]
    public async Task Execute_MissingProgramOrDirectory_CouldNotStart()
    {
        var missing = await Executor().ExecuteAsync(Task("distexec-no-such-program"), new RecordingSink(), CancellationToken.None);
        var noDir = await Executor().ExecuteAsync(Task("true") with { Command = new CommandTask("true", [], new Dictionary<string, string>(), "/nonexistent/dir") }, new RecordingSink(), CancellationToken.None);

        Assert.StartsWith("could not start", missing.Error, StringComparison.Ordinal);
        Assert.StartsWith("could not start: working directory", noDir.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_ProgramTheKernelCannotExec_CouldNotStartWithTheLaunchersReason()
    {
        // The path resolves to an executable file, so only the launcher's own exec of it can fail: the launcher reports
        // why on its status pipe, and the task is "could not start" with that reason, not a failure with an exit code.
        var dir = Directory.CreateTempSubdirectory("distexec-noexec-");
        try
        {
            File.SetUnixFileMode(dir.FullName, (UnixFileMode)0b111_101_101);
            var program = Path.Join(dir.FullName, "not-a-program");
            await File.WriteAllTextAsync(program, "neither an ELF file nor a script\n");
            File.SetUnixFileMode(program, (UnixFileMode)0b111_101_101);
            var sink = new RecordingSink();

            var result = await Executor().ExecuteAsync(Task(program), sink, CancellationToken.None);

            Assert.Equal(TaskOutcome.Failed, result.Outcome);
            Assert.Equal(FailureKind.CouldNotStart, result.Failure);
            Assert.Equal($"could not start: {program}: Exec format error", result.Error);
            Assert.Null(result.ExitCode);
            Assert.Equal("", sink.Stdout + sink.Stderr);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Execute_LargeInterleavedOutput_NoDeadlock()
    {
        var sink = new RecordingSink();

        var result = await Executor().ExecuteAsync(
            Task("sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo out-$i; echo err-$i >&2; i=$((i+1)); done"),
            sink, CancellationToken.None);

        Assert.Equal(TaskOutcome.Succeeded, result.Outcome);
        Assert.Equal(2000, sink.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(2000, sink.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Execute_Process_OwnSessionNoInheritedSignalStateOrDescriptors()
    {
        // The runtime ignores SIGPIPE and keeps sockets and pipes open; a task must see none of that. The pipe is
        // inheritable (no close-on-exec), as a descriptor a library opened carelessly would be: only the launcher's
        // closing of every descriptor above 2 keeps it from the task.
        using var workerPipe = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.Out, HandleInheritability.Inheritable);
        var workerPipeName = new FileInfo($"/proc/self/fd/{workerPipe.SafePipeHandle.DangerousGetHandle()}").LinkTarget!;
        var sink = new RecordingSink();

        var result = await Executor().ExecuteAsync(
            Task("sh", "-c", "grep -E '^(SigIgn|SigBlk)' /proc/self/status; ls -l /proc/self/fd/; read -r line; echo \"stdin:$line:$?\"; ps -o pid=,sid=,pgid= -p $$"),
            sink, CancellationToken.None);

        Assert.Equal(TaskOutcome.Succeeded, result.Outcome);
        // Standard signals (1-31, SIGPIPE among them) neither ignored nor blocked; glibc keeps its internal ones.
        Assert.Equal(0UL, SignalMask(sink.Stdout, "SigIgn") & 0x7FFF_FFFF);
        Assert.Equal(0UL, SignalMask(sink.Stdout, "SigBlk") & 0x7FFF_FFFF);
        Assert.Contains("stdin::1", sink.Stdout, StringComparison.Ordinal);
        var ids = sink.Stdout.Trim().Split('\n')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(ids.Distinct().Count() == 1, $"pid, session and group should be one id: {sink.Stdout}");
        Assert.StartsWith("pipe:[", workerPipeName, StringComparison.Ordinal);
        Assert.DoesNotContain(workerPipeName, sink.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("socket:", sink.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_InCgroupMode_TaskIsTheTaskUserWithNoNewPrivsInATaskCgroup()
    {
        // Started without the launcher (libdistexec-spawn): what the launcher did before its exec must still be done.
        var isolation = TestIsolation.Shared;
        Assert.Equal(ContainmentKind.Cgroup, isolation.Kind);
        var sink = new RecordingSink();

        var result = await Executor().ExecuteAsync(
            Task("sh", "-c", "grep -E '^(Uid|Gid|Groups|NoNewPrivs|PPid):' /proc/$$/status; cat /proc/$$/cgroup"),
            sink, CancellationToken.None);

        Assert.Equal(TaskOutcome.Succeeded, result.Outcome);
        var fields = sink.Stdout.Split('\n').Where(l => l.Contains(':', StringComparison.Ordinal) && !l.StartsWith("0::", StringComparison.Ordinal))
            .ToDictionary(l => l[..l.IndexOf(':', StringComparison.Ordinal)], l => l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim());
        var uid = isolation.User?.Uid ?? ProcessPrivileges.EffectiveUid;
        Assert.Equal(Enumerable.Repeat(uid.ToString(CultureInfo.InvariantCulture), 4), fields["Uid"].Split('\t'));
        if (isolation.User is { } user)
        {
            Assert.Equal(Enumerable.Repeat(user.Gid.ToString(CultureInfo.InvariantCulture), 4), fields["Gid"].Split('\t'));
            Assert.Equal(user.Gid.ToString(CultureInfo.InvariantCulture), fields["Groups"]);
        }

        Assert.Equal("1", fields["NoNewPrivs"]);
        // Its parent is the worker (this process), which reaps it.
        Assert.Equal(Environment.ProcessId.ToString(CultureInfo.InvariantCulture), fields["PPid"]);
        var cgroup = sink.Stdout.Split('\n').Single(l => l.StartsWith("0::", StringComparison.Ordinal))[3..];
        Assert.Matches($"/distexec-{Environment.ProcessId}/task-[0-9]+$", cgroup);
    }

    [Fact]
    public void StartInCgroup_EachStageThatFails_SaysWhichWithTheSystemsReason()
    {
        var environment = new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" };

        var noCgroup = Assert.Throws<SpawnException>(() => SpawnedProcess.StartInCgroup("/bin/true", [], environment, "/", "/nonexistent/cgroup", -1, -1));
        var noDirectory = Assert.Throws<SpawnException>(() => SpawnedProcess.StartInCgroup("/bin/true", [], environment, "/nonexistent/dir", "/nonexistent/cgroup", -1, -1));
        using var containment = TestIsolation.Shared.Contain();
        var noProgram = Assert.Throws<SpawnException>(() => containment.Start("/nonexistent/program", [], environment, "/"));

        Assert.Equal("cannot put the task in its cgroup: No such file or directory", noCgroup.Message);
        Assert.Equal("cannot set up the task's session, standard streams or working directory /nonexistent/dir: No such file or directory", noDirectory.Message);
        Assert.Equal("/nonexistent/program: No such file or directory", noProgram.Message);
    }

    private static ulong SignalMask(string status, string field) =>
        Convert.ToUInt64(status.Split('\n').Single(l => l.StartsWith(field + ":", StringComparison.Ordinal)).Split('\t')[1], 16);

    private static CommandExecutor Executor(CommandExecutorOptions? policy = null) =>
        new(Options, new CommandPolicy(policy ?? new CommandExecutorOptions()), TestIsolation.Shared, TimeProvider.System, NullLogger<CommandExecutor>.Instance);

    private static ExecuteTask Task(string program, params string[] args) =>
        new(Guid.NewGuid(), Guid.NewGuid(), "command", new CommandTask(program, args, new Dictionary<string, string>(), null), TimeSpan.FromSeconds(60));
}
