using DistributedExecutor.Contracts.Messages;

namespace DistributedExecutor.Master.Jobs;

/// <summary>Puts tasks on their pool's queue; returns once the broker has confirmed every one.</summary>
internal interface ITaskPublisher
{
    Task PublishAsync(string pool, IReadOnlyList<ExecuteTask> tasks, CancellationToken cancellationToken);
}

internal static class TaskPublisherExtensions
{
    /// <summary>Publishes stored tasks (released, retried, recovered) to their pools or workers, and marks them published once confirmed.</summary>
    public static async Task PublishStoredAsync(this ITaskPublisher publisher, JobStore store, IReadOnlyList<PendingTask> tasks, TimeSpan defaultTimeout, CancellationToken cancellationToken)
    {
        foreach (var pool in tasks.GroupBy(t => t.Pool, StringComparer.Ordinal))
        {
            var messages = pool.Select(t => TaskMessages.ToExecuteTask(t.JobId, t.TaskId, t.Index, t.Spec, defaultTimeout, t.Dispatch)).ToList();
            await publisher.PublishAsync(pool.Key, messages, cancellationToken).ConfigureAwait(false);
            store.MarkTasksPublished(pool.Select(t => t.TaskId));
        }
    }
}
