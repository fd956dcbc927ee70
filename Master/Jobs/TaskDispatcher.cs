using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Options;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// The one home of "dispatching a stored task": the bus message built from the stored spec (defaults applied
/// here, once), put on its pool's queue (or its worker's) through <see cref="ITaskPublisher"/>, and the store told
/// only after the broker confirmed. Submission, release (--max-parallel), retries, recovery, tasks of a lost
/// worker and dead-lettered tasks all dispatch through it.
/// </summary>
internal sealed class TaskDispatcher(ITaskPublisher publisher, IJobStore store, MasterOptions options)
{
    private TimeSpan DefaultTimeout => TimeSpan.FromSeconds(options.DefaultTaskTimeoutSeconds);

    /// <summary>The message for a stored task.</summary>
    public ExecuteTask Message(Guid jobId, Guid taskId, TaskSpec spec, int dispatch = 1) =>
        TaskMessages.ToExecuteTask(jobId, taskId, spec, DefaultTimeout, dispatch);

    /// <summary>A new job's first tasks; the caller marks the job accepted (or removes it when this throws).</summary>
    public Task DispatchNewAsync(string pool, IReadOnlyList<ExecuteTask> messages, CancellationToken cancellationToken) =>
        publisher.PublishAsync(pool, messages, cancellationToken);

    /// <summary>Stored tasks (released, of a lost worker, after a dead letter): each marked published once confirmed.</summary>
    public async Task DispatchAsync(IReadOnlyList<PendingTask> tasks, CancellationToken cancellationToken)
    {
        foreach (var pool in tasks.GroupBy(t => t.Pool, StringComparer.Ordinal))
        {
            await publisher.PublishAsync(pool.Key, [.. pool.Select(Message)], cancellationToken).ConfigureAwait(false);
            store.MarkTasksPublished(pool.Select(t => t.TaskId));
        }
    }

    /// <summary>Tasks already built as messages (a big job's rest, from <see cref="TaskOutbox"/>): each marked published once confirmed.</summary>
    public async Task PublishStoredAsync(string pool, IReadOnlyList<ExecuteTask> messages, CancellationToken cancellationToken)
    {
        await publisher.PublishAsync(pool, messages, cancellationToken).ConfigureAwait(false);
        try
        {
            store.MarkTasksPublished(messages.Select(m => m.TaskId));
        }
        catch (StoreFullException)
        {
            // In the broker, unmarked: start-up recovery would send them again (the copies stop as duplicates).
            // Not publishing them again now: they are queued and will run.
        }
    }

    /// <summary>A retry that fell due; its schedule entry goes once the broker confirmed.</summary>
    public async Task DispatchRetryAsync(PendingTask retry, CancellationToken cancellationToken)
    {
        await publisher.PublishAsync(retry.Pool, [Message(retry)], cancellationToken).ConfigureAwait(false);
        store.MarkRetryPublished(retry.TaskId, retry.Dispatch);
    }

    /// <summary>Tasks a previous run of the master stored but never saw confirmed: their jobs marked accepted once they are.</summary>
    public async Task DispatchRecoveredAsync(IReadOnlyList<PendingTask> tasks, CancellationToken cancellationToken)
    {
        foreach (var group in tasks.GroupBy(p => (p.Pool, p.JobId)))
        {
            await publisher.PublishAsync(group.Key.Pool, [.. group.Select(Message)], cancellationToken).ConfigureAwait(false);
            await store.MarkPublishedAsync(group.Key.JobId).ConfigureAwait(false);
        }
    }

    private ExecuteTask Message(PendingTask task) => Message(task.JobId, task.TaskId, task.Spec, task.Dispatch);
}
