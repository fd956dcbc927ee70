using System.Buffers;
using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Executors;
using DistributedExecutor.Executors.Isolation;
using DistributedExecutor.Hosting.Telemetry;

namespace DistributedExecutor.Executors.Command;

/// <summary>
/// Runs a program with an argv (never a shell) through the task launcher (as the task user, contained: see
/// <see cref="TaskIsolation"/>), with a minimal environment. Timeout and cancel send TERM to every process of
/// the task, then KILL after the grace period.
/// </summary>
internal sealed class CommandExecutor(ExecutorOptions options, CommandPolicy policy, TaskIsolation isolation, TimeProvider time, ILogger<CommandExecutor> logger) : ITaskExecutor
{
    public const string ExecutorName = "command";

    /// <summary>How long processes and pipes may linger after the task's processes were KILLed.</summary>
    private static readonly TimeSpan LeftoverWait = TimeSpan.FromSeconds(1);

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

        if (policy.CheckEnvironment(spec.Env) is { } envDenied)
        {
            return SpecVerdict.Deny(envDenied);
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

    public async Task<TaskRunResult> ExecuteAsync(ExecuteTask task, IOutputSink output, TaskStop stop)
    {
        var cancellationToken = stop.Graceful;
        var spec = task.Command ?? throw new ArgumentException("not a command task", nameof(task));
        var workingDir = string.IsNullOrEmpty(spec.WorkingDir) ? Path.GetTempPath() : spec.WorkingDir;
        if (!Directory.Exists(workingDir))
        {
            return TaskRunResult.CouldNotStart($"working directory {workingDir} does not exist");
        }

        if (policy.CheckEnvironment(spec.Env) is { } envDenied)
        {
            return TaskRunResult.Refused(envDenied);
        }

        var environment = BuildEnvironment(spec);
        if (!ExecutableResolver.TryResolve(spec.Program, environment["PATH"], workingDir, out var realPath, out var resolveError))
        {
            return TaskRunResult.CouldNotStart(resolveError);
        }

        if (policy.Check(spec.Program, realPath) is { } denied)
        {
            return TaskRunResult.Refused(denied);
        }

        using var containment = isolation.Contain();
        SpawnedProcess process;
        try
        {
            process = containment.Start(realPath, spec.Args, environment, workingDir);
        }
        catch (SpawnException ex)
        {
            return TaskRunResult.CouldNotStart(ex.Message);
        }

        using var _ = process;
        containment.Attach(process.Pid);
        // Stop at once (no TERM grace): every process of the task, whatever the graceful path is doing.
        var killNow = stop.Immediate.Register(containment.KillAll);
        using var abandonPipes = new CancellationTokenSource();
        var stdout = PumpAsync(process.Stdout, OutputStreamKind.Stdout, output, abandonPipes.Token);
        var stderr = PumpAsync(process.Stderr, OutputStreamKind.Stderr, output, abandonPipes.Token);

        using var timeout = new CancellationTokenSource(task.Timeout, time);
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
            await StopAsync(process, containment).ConfigureAwait(false);
        }

        // Whatever the leader did, nothing of the task outlives it: processes it left behind (in its group, in a
        // session of their own, daemonized) would otherwise hold the pipes open and run unaccounted. The leader
        // is not reaped yet, so its pid and group id are still this task's.
        containment.KillAll();
        if (!await containment.WaitEmptyAsync(LeftoverWait).ConfigureAwait(false))
        {
            logger.LogWarning("Processes of task {TaskId} were still alive {Wait}s after KILL", task.TaskId, LeftoverWait.TotalSeconds);
        }

        // The pipes close when the last process holding them dies; a wait on them is bounded all the same (a
        // process outside the task may have been handed a copy), then our ends are closed.
        // (WaitAsync drops its timer as soon as the pipes close, which is at once for nearly every task.)
        var pumps = Task.WhenAll(stdout, stderr);
        try
        {
            await pumps.WaitAsync(LeftoverWait, time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await abandonPipes.CancelAsync().ConfigureAwait(false);
            process.Stdout.Dispose();
            process.Stderr.Dispose();
            logger.LogWarning("Output pipes of task {TaskId} were still open {Wait}s after its processes ended; closed them", task.TaskId, LeftoverWait.TotalSeconds);
        }

        await pumps.ConfigureAwait(false);
        var exitCode = await process.Exited.ConfigureAwait(false);
        await killNow.DisposeAsync().ConfigureAwait(false);
        containment.Detach();
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
            ["HOME"] = isolation.User?.Home ?? Environment.GetEnvironmentVariable("HOME") ?? "/",
            ["LANG"] = Environment.GetEnvironmentVariable("LANG") ?? "C.UTF-8",
        };
        foreach (var (key, value) in spec.Env)
        {
            environment[key] = value;
        }

        return environment;
    }

    private async Task StopAsync(SpawnedProcess process, TaskContainment containment)
    {
        containment.Terminate();
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(options.KillGraceSeconds), time);
        try
        {
            await process.Exited.WaitAsync(grace.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            logger.LogDebug("Task process {Pid} ignored TERM for {Grace}s; killing its group", process.Pid, options.KillGraceSeconds);
        }

        containment.KillAll();
        await process.Exited.ConfigureAwait(false);
    }

    private static async Task PumpAsync(Stream stream, OutputStreamKind kind, IOutputSink output, CancellationToken abandon)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, abandon).ConfigureAwait(false)) > 0)
            {
                await output.WriteAsync(kind, buffer.AsMemory(0, read)).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (abandon.IsCancellationRequested && ex is OperationCanceledException or ObjectDisposedException or IOException)
        {
            // Abandoned: something outside the task still held the pipe after every process of the task had ended.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
