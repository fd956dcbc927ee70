using System.Collections.Concurrent;

namespace DistributedExecutor.Worker.Running;

/// <summary>
/// The tasks this process runs, so a <c>CancelTask</c> can stop them, and the jobs canceled recently, so a
/// task of a canceled job that arrives later is never started.
/// </summary>
internal sealed class RunningTasks(TimeProvider time)
{
    private static readonly TimeSpan RememberCanceled = TimeSpan.FromHours(6);

    private readonly ConcurrentDictionary<Guid, Entry> _running = new();
    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _canceledJobs = new();
    private readonly ConcurrentDictionary<Guid, int> _processGroups = new();

    public Registration Start(Guid jobId, Guid taskId)
    {
        var entry = new Entry(jobId, new CancellationTokenSource());
        _running[taskId] = entry;
        if (IsCanceled(jobId, taskId))
        {
            entry.Cancellation.Cancel();
        }

        return new Registration(this, taskId, entry);
    }

    public bool IsCanceled(Guid jobId, Guid taskId) =>
        _canceledJobs.ContainsKey(jobId) || _canceledJobs.ContainsKey(taskId);

    /// <summary>Cancels the running tasks of a job (or one task) and remembers it.</summary>
    public int Cancel(Guid jobId, Guid? taskId)
    {
        var now = time.GetUtcNow();
        _canceledJobs[taskId ?? jobId] = now;
        foreach (var old in _canceledJobs.Where(p => now - p.Value > RememberCanceled).Select(p => p.Key).ToList())
        {
            _canceledJobs.TryRemove(old, out _);
        }

        var count = 0;
        foreach (var (id, entry) in _running)
        {
            if (entry.JobId == jobId && (taskId is null || taskId == id))
            {
                entry.Cancellation.Cancel();
                count++;
            }
        }

        return count;
    }

    /// <summary>Records the process group a task runs in, so <see cref="KillNow"/> can reach it; dispose when it has ended.</summary>
    public IDisposable TrackProcessGroup(Guid taskId, int groupId)
    {
        _processGroups[taskId] = groupId;
        return new Untrack(this, taskId, groupId);
    }

    /// <summary>
    /// SIGKILLs the task's process group at once, without the TERM grace. For when the task's message is already
    /// back in the queue (the broker connection is gone): any moment it keeps running it may run twice.
    /// </summary>
    public bool KillNow(Guid taskId) =>
        _processGroups.TryGetValue(taskId, out var group) && Executors.Command.ProcessGroup.Signal(group, Executors.Command.ProcessGroup.SigKill);

    private sealed class Untrack(RunningTasks owner, Guid taskId, int groupId) : IDisposable
    {
        public void Dispose() => owner._processGroups.TryRemove(new KeyValuePair<Guid, int>(taskId, groupId));
    }

    internal sealed record Entry(Guid JobId, CancellationTokenSource Cancellation);

    public sealed class Registration : IDisposable
    {
        private readonly RunningTasks _owner;
        private readonly Guid _taskId;
        private readonly Entry _entry;

        internal Registration(RunningTasks owner, Guid taskId, Entry entry)
        {
            _owner = owner;
            _taskId = taskId;
            _entry = entry;
        }

        public CancellationToken Canceled => _entry.Cancellation.Token;

        public void Dispose()
        {
            _owner._running.TryRemove(new KeyValuePair<Guid, Entry>(_taskId, _entry));
            _entry.Cancellation.Dispose();
        }
    }
}
