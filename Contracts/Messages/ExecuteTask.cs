namespace DistributedExecutor.Contracts.Messages;

/// <summary>Run one task. Sent by the master to the queue <c>distexec.tasks.&lt;pool&gt;</c>.</summary>
public sealed record ExecuteTask(
    Guid JobId,
    Guid TaskId,
    int TaskIndex,
    string Executor,
    CommandTask? Command,
    TimeSpan Timeout);
