using DistributedExecutor.Contracts.Messages;

namespace DistributedExecutor.Contracts.Executors;

/// <summary>
/// An executor plug-in: a name, validation of its spec (the master calls it at submission so bad specs fail
/// fast, the worker again before running), and the execution itself.
/// </summary>
public interface ITaskExecutor
{
    /// <summary>The name tasks ask for ("command").</summary>
    string Name { get; }

    /// <summary>Checks a task's spec. Never throws for bad input: it says what is wrong.</summary>
    SpecVerdict Validate(ExecuteTask task);

    /// <summary>
    /// Runs the task, writing output to <paramref name="output"/> as it appears, until it ends or
    /// <paramref name="stop"/> says to stop it (gracefully, or at once).
    /// </summary>
    Task<TaskRunResult> ExecuteAsync(ExecuteTask task, IOutputSink output, TaskStop stop);
}
