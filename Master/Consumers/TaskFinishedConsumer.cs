using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Options;
using MassTransit;

namespace DistributedExecutor.Master.Consumers;

/// <summary>Ends an attempt and, by the state rules, possibly its task and job; publishes what a --max-parallel job may run next.</summary>
internal sealed class TaskFinishedConsumer(JobStore store, ITaskPublisher publisher, MasterOptions options) : IConsumer<TaskFinished>
{
    public async Task Consume(ConsumeContext<TaskFinished> context)
    {
        var released = store.ApplyFinished(context.Message);
        if (released.Count == 0)
        {
            return;
        }

        // Published before this event is acknowledged: if that fails, the event is retried, and start-up
        // recovery publishes released tasks a crash left unpublished.
        var defaultTimeout = TimeSpan.FromSeconds(options.DefaultTaskTimeoutSeconds);
        var messages = released.Select(t => TaskMessages.ToExecuteTask(t.JobId, t.TaskId, t.Index, t.Spec, defaultTimeout, t.Dispatch)).ToList();
        await publisher.PublishAsync(released[0].Pool, messages, context.CancellationToken).ConfigureAwait(false);
        store.MarkTasksPublished(released.Select(t => t.TaskId));
    }
}
