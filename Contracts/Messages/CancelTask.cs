namespace DistributedExecutor.Contracts.Messages;

/// <summary>
/// Stop the tasks of a job (or one task when <paramref name="TaskId"/> is set). Published: every worker receives it.
/// </summary>
public sealed record CancelTask(Guid JobId, Guid? TaskId, string Reason);
