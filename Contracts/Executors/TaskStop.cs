namespace DistributedExecutor.Contracts.Executors;

/// <summary>
/// How a running task is told to stop. <see cref="Graceful"/>: it should end soon (a cancel, a worker draining):
/// let it clean up (TERM, a grace period, then KILL). <see cref="Immediate"/>: end it now, without grace (its
/// message is already back in the queue, so every moment it keeps running it may run twice).
/// </summary>
public readonly record struct TaskStop(CancellationToken Graceful, CancellationToken Immediate)
{
    /// <summary>A stop that only ever asks gracefully.</summary>
    public static implicit operator TaskStop(CancellationToken graceful) => new(graceful, CancellationToken.None);
}
