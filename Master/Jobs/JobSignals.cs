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

    /// <summary>Where several masters share the store: tells the others of a change this master stored.</summary>
    public Action<Guid>? Broadcast { get; set; }

    /// <summary>The job changed here: wakes its watchers on this master and, through <see cref="Broadcast"/>, on the others.</summary>
    public void Notify(Guid jobId)
    {
        NotifyLocal(jobId);
        Broadcast?.Invoke(jobId);
    }

    /// <summary>The job changed (here, or on another master that said so): wakes its watchers on this master.</summary>
    public void NotifyLocal(Guid jobId)
    {
        if (_waiters.TryRemove(jobId, out var waiter))
        {
            waiter.TrySetResult();
        }
    }

    /// <summary>Wakes every watcher (changes may have been missed): each reads again from where it was.</summary>
    public void NotifyAll()
    {
        foreach (var jobId in _waiters.Keys)
        {
            NotifyLocal(jobId);
        }
    }
}
