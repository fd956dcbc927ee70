using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Master.Jobs;
using MassTransit;

namespace DistributedExecutor.Master.Consumers;

/// <summary>Ends an attempt and, by the state rules, possibly its task and job; publishes what a --max-parallel job may run next.</summary>
internal sealed class TaskFinishedConsumer(IJobStore store, TaskDispatcher dispatcher, DistexecMetrics metrics, TimeProvider time) : IConsumer<TaskFinished>
{
    public async Task Consume(ConsumeContext<TaskFinished> context)
    {
        metrics.CountReport("finished");
        // The attempt's output batches, published before this, may still be on their way into the store beside it.
        var released = await PendingEvents.ApplyAsync(wait => store.ApplyFinishedAsync(context.Message, wait), time, context.CancellationToken).ConfigureAwait(false);
        if (released.Count == 0)
        {
            return;
        }

        // Published before this event is acknowledged; start-up recovery publishes released tasks a crash left unpublished.
        await dispatcher.DispatchAsync(released, context.CancellationToken).ConfigureAwait(false);
    }
}
