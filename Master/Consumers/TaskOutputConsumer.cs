using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Master.Jobs;
using MassTransit;

namespace DistributedExecutor.Master.Consumers;

/// <summary>Stores a batch of output once, however often it is delivered.</summary>
internal sealed class TaskOutputConsumer(IJobStore store) : IConsumer<TaskOutput>
{
    public Task Consume(ConsumeContext<TaskOutput> context)
    {
        store.ApplyOutput(context.Message);
        return Task.CompletedTask;
    }
}
