using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Master.Jobs;
using MassTransit;

namespace DistributedExecutor.Master.Consumers;

/// <summary>Ends an attempt and, by the state rules, possibly its task and job.</summary>
internal sealed class TaskFinishedConsumer(JobStore store) : IConsumer<TaskFinished>
{
    public Task Consume(ConsumeContext<TaskFinished> context)
    {
        store.ApplyFinished(context.Message);
        return Task.CompletedTask;
    }
}
