using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Master.Jobs;
using MassTransit;

namespace DistributedExecutor.Master.Consumers;

/// <summary>Records a new attempt; a task that must not run (canceled, already ended, unknown) is told to stop.</summary>
internal sealed class TaskStartedConsumer(IJobStore store, DistexecMetrics metrics) : IConsumer<TaskStarted>
{
    public async Task Consume(ConsumeContext<TaskStarted> context)
    {
        metrics.CountReport("started");
        var message = context.Message;
        if (await store.ApplyStartedAsync(message).ConfigureAwait(false))
        {
            await context.Publish(new CancelTask(message.JobId, message.TaskId, "the task was canceled or has already ended"), context.CancellationToken)
                .ConfigureAwait(false);
        }
    }
}
