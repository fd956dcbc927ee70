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

    public Registration Start(Guid jobId, Guid taskId)
    {
        var entry = new Entry(jobId, new CancellationTokenSource(), new CancellationTokenSource());
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

    internal sealed record Entry(Guid JobId, CancellationTokenSource Cancellation, CancellationTokenSource Immediate);

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

        /// <summary>Fires when this attempt must stop at once (<see cref="KillNow"/>).</summary>
        public CancellationToken KilledNow => _entry.Immediate.Token;

        /// <summary>
        /// Stops this attempt at once, without the TERM grace (the executor's <see cref="Contracts.Executors.TaskStop.Immediate"/>):
        /// for when its message is already back in the queue (the broker connection is gone), so every moment it
        /// keeps running it may run twice. Reaches exactly this attempt, never a later one of the same task.
        /// </summary>
        public void KillNow() => _entry.Immediate.Cancel();

        public void Dispose()
        {
            _owner._running.TryRemove(new KeyValuePair<Guid, Entry>(_taskId, _entry));
            _entry.Cancellation.Dispose();
            _entry.Immediate.Dispose();
        }
    }
}
