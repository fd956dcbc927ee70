using System.Collections.Concurrent;

namespace DistributedExecutor.Master.Jobs;

/// <summary>Wakes WatchJob streams when their job's output or state changes.</summary>
internal sealed class JobSignals
{
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _waiters = new();

    /// <summary>A task that completes at the job's next change. Take it before reading, then wait on it.</summary>
    public Task NextChange(Guid jobId) =>
        _waiters.GetOrAdd(jobId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Drops the job's waiter once it has ended (no change will ever come).</summary>
    public void Forget(Guid jobId) => _waiters.TryRemove(jobId, out _);

    public void Notify(Guid jobId)
    {
        if (_waiters.TryRemove(jobId, out var waiter))
        {
            waiter.TrySetResult();
        }
    }
}
