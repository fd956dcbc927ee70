using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Options;
using MassTransit;

namespace DistributedExecutor.Master.Consumers;

/// <summary>
/// A task message the broker gave up on (delivered more than TASK_DELIVERY_LIMIT times without a result,
/// typically because the task kills its worker): its task ends Failed with that reason instead of waiting forever.
/// </summary>
internal sealed class DeadTaskConsumer(IJobStore store, TaskDispatcher dispatcher, MasterOptions options) : IConsumer<ExecuteTask>
{
    public async Task Consume(ConsumeContext<ExecuteTask> context)
    {
        var task = context.Message;
        var released = store.ApplyGaveUp(task.JobId, task.TaskId,
            $"gave up after {options.DeliveryLimit + 1} deliveries (TASK_DELIVERY_LIMIT={options.DeliveryLimit}): no worker finished it; the task may be killing its worker");
        await dispatcher.DispatchAsync(released, context.CancellationToken).ConfigureAwait(false);
    }
}
