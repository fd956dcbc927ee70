using System.Collections.Concurrent;
using DistributedExecutor.Worker.Isolation;

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
    /// <summary>The attempt running in this async flow, so an executor can attach its process group to it.</summary>
    private static readonly AsyncLocal<Entry?> CurrentAttempt = new();

    public Registration Start(Guid jobId, Guid taskId)
    {
        var entry = new Entry(jobId, new CancellationTokenSource());
        _running[taskId] = entry;
        CurrentAttempt.Value = entry;
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

    /// <summary>
    /// Attaches a task's containment to the attempt started in this async flow (by <see cref="Start"/>), so that
    /// <see cref="Registration.KillNow"/> reaches exactly that run, never a later attempt of the same task that
    /// may already be running here. Null detaches it (before its leader is reaped).
    /// </summary>
    public static void TrackContainment(TaskContainment? containment)
    {
        if (CurrentAttempt.Value is { } entry)
        {
            lock (entry.Gate)
            {
                entry.Containment = containment;
            }
        }
    }

    internal sealed record Entry(Guid JobId, CancellationTokenSource Cancellation)
    {
        public readonly Lock Gate = new();
        public TaskContainment? Containment;
    }

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

        /// <summary>
        /// SIGKILLs every process of this attempt at once, without the TERM grace: for when its message is already
        /// back in the queue (the broker connection is gone), so every moment it keeps running it may run twice.
        /// </summary>
        public bool KillNow()
        {
            lock (_entry.Gate)
            {
                if (_entry.Containment is not { } containment)
                {
                    return false;
                }

                containment.KillAll();
                return true;
            }
        }

        public void Dispose()
        {
            _owner._running.TryRemove(new KeyValuePair<Guid, Entry>(_taskId, _entry));
            _entry.Cancellation.Dispose();
        }
    }
}
