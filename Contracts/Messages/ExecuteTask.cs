namespace DistributedExecutor.Contracts.Messages;

/// <summary>
/// Run one task. Sent by the master to the queue <c>distexec.tasks.&lt;pool&gt;</c>. <paramref name="Executor"/>
/// names the executor; the spec is <paramref name="Command"/>, <paramref name="Http"/>, or for plug-in
/// executors <paramref name="Parameters"/>. <paramref name="Priority"/>: 1 high, 0 normal, -1 low (see <see cref="TaskPriority"/>).
/// </summary>
public sealed record ExecuteTask(
    Guid JobId,
    Guid TaskId,
    string Executor,
    CommandTask? Command,
    TimeSpan Timeout,
    HttpTask? Http = null,
    IReadOnlyDictionary<string, string>? Parameters = null,
    int Dispatch = 1,
    string? TargetWorker = null,
    int Priority = 0);
