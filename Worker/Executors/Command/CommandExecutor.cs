using DistributedExecutor.Contracts.Executors;
using System.Buffers;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Worker.Options;
using DistributedExecutor.Worker.Running;

namespace DistributedExecutor.Worker.Executors.Command;

/// <summary>
/// Runs a program with an argv (never a shell) in its own process group, with a minimal environment.
/// Timeout and cancel send TERM to the group, then KILL after the grace period.
/// </summary>
internal sealed class CommandExecutor(WorkerOptions options, CommandPolicy policy, ILogger<CommandExecutor> logger) : ITaskExecutor
{
    public const string ExecutorName = "command";

    public string Name => ExecutorName;

    public SpecVerdict Validate(ExecuteTask task)
    {
        if (task.Command is not { } spec)
        {
            return SpecVerdict.Invalid("a command task needs a command spec");
        }

        var problems = CommandSpecRules.Check(spec);
        if (problems.Count > 0)
        {
            return new SpecVerdict(problems, null);
        }

        var pathVariable = spec.Env.GetValueOrDefault("PATH") ?? ExecutableResolver.DefaultPath;
        if (!ExecutableResolver.TryResolve(spec.Program, pathVariable, spec.WorkingDir, out var realPath, out _))
        {
            // Whether it exists is the worker's business (it may be installed only there), but policy on
            // names still applies, and an allow list admits only what it can see.
            var unresolved = policy.Check(spec.Program, spec.Program);
            return unresolved is null ? SpecVerdict.Ok : SpecVerdict.Deny(unresolved);
        }

        var denied = policy.Check(spec.Program, realPath);
        return denied is null ? SpecVerdict.Ok : SpecVerdict.Deny(denied);
    }

    public async Task<TaskRunResult> ExecuteAsync(ExecuteTask task, IOutputSink output, CancellationToken cancellationToken)
    {
        var spec = task.Command ?? throw new ArgumentException("not a command task", nameof(task));
        var workingDir = string.IsNullOrEmpty(spec.WorkingDir) ? Path.GetTempPath() : spec.WorkingDir;
        if (!Directory.Exists(workingDir))
        {
            return TaskRunResult.CouldNotStart($"working directory {workingDir} does not exist");
        }

        var environment = BuildEnvironment(spec);
        if (!ExecutableResolver.TryResolve(spec.Program, environment["PATH"], workingDir, out var realPath, out var resolveError))
        {
            return TaskRunResult.CouldNotStart(resolveError);
        }

        if (policy.Check(spec.Program, realPath) is { } denied)
        {
            return new TaskRunResult(TaskOutcome.Failed, null, null, $"refused: {denied}");
        }

        SpawnedProcess process;
        try
        {
            process = SpawnedProcess.Start(realPath, spec.Args, environment, workingDir);
        }
        catch (SpawnException ex)
        {
            return TaskRunResult.CouldNotStart(ex.Message);
        }

        using var _ = process;
        var pid = process.Pid;
        RunningTasks.TrackProcessGroup(pid);
        var stdout = PumpAsync(process.Stdout, OutputStreamKind.Stdout, output);
        var stderr = PumpAsync(process.Stderr, OutputStreamKind.Stderr, output);

        using var timeout = new CancellationTokenSource(task.Timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var stoppedBy = (TaskOutcome?)null;
        try
        {
            await process.Exited.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            stoppedBy = timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested
                ? TaskOutcome.TimedOut
                : TaskOutcome.Canceled;
            await StopAsync(process).ConfigureAwait(false);
        }

        // Whatever the leader did, nothing of the task outlives it: background children still in the group
        // would otherwise hold the pipes open (and run unaccounted). The leader is not reaped yet, so the
        // group id is still this task's.
        ProcessGroup.Signal(pid, ProcessGroup.SigKill);
        await Task.WhenAll(stdout, stderr).ConfigureAwait(false);

        var exitCode = await process.Exited.ConfigureAwait(false);
        RunningTasks.UntrackProcessGroup();
        process.Reap();
        if (stoppedBy is { } outcome)
        {
            var error = outcome == TaskOutcome.TimedOut
                ? $"timed out after {task.Timeout.TotalSeconds:0.###}s"
                : "canceled";
            return new TaskRunResult(outcome, null, null, error);
        }

        // Death by signal N reads as 128+N.
        if (exitCode > 128 && exitCode < 128 + 65)
        {
            return new TaskRunResult(TaskOutcome.Failed, exitCode, exitCode - 128, $"killed by signal {exitCode - 128}");
        }

        return new TaskRunResult(exitCode == 0 ? TaskOutcome.Succeeded : TaskOutcome.Failed, exitCode, null, null);
    }

    private Dictionary<string, string> BuildEnvironment(CommandTask spec)
    {
        // Never the worker's own variables: no broker URL or token leaks into user commands.
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = ExecutableResolver.DefaultPath,
            ["HOME"] = Environment.GetEnvironmentVariable("HOME") ?? "/",
            ["LANG"] = Environment.GetEnvironmentVariable("LANG") ?? "C.UTF-8",
        };
        foreach (var (key, value) in spec.Env)
        {
            environment[key] = value;
        }

        return environment;
    }

    private async Task StopAsync(SpawnedProcess process)
    {
        ProcessGroup.Signal(process.Pid, ProcessGroup.SigTerm);
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(options.KillGraceSeconds));
        try
        {
            await process.Exited.WaitAsync(grace.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            logger.LogDebug("Task process {Pid} ignored TERM for {Grace}s; killing its group", process.Pid, options.KillGraceSeconds);
        }

        ProcessGroup.Signal(process.Pid, ProcessGroup.SigKill);
        await process.Exited.ConfigureAwait(false);
    }

    private static async Task PumpAsync(Stream stream, OutputStreamKind kind, IOutputSink output)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, CancellationToken.None).ConfigureAwait(false)) > 0)
            {
                await output.WriteAsync(kind, buffer.AsMemory(0, read)).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
