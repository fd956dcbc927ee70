using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Master.Jobs;
using MassTransit;

namespace DistributedExecutor.Master.Consumers;

/// <summary>Stores a batch of output once, however often it is delivered.</summary>
internal sealed class TaskOutputConsumer(IJobStore store, DistexecMetrics metrics, TimeProvider time) : IConsumer<TaskOutput>
{
    // The attempt's TaskStarted, published before this, may still be on its way into the store beside it.
    public Task Consume(ConsumeContext<TaskOutput> context)
    {
        metrics.CountReport("output");
        return PendingEvents.ApplyAsync(async wait =>
        {
            await store.ApplyOutputAsync(context.Message, wait).ConfigureAwait(false);
            return 0;
        }, time, context.CancellationToken);
    }
}
