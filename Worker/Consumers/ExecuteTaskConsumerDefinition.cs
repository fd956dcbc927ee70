using DistributedExecutor.Worker.Running;
using MassTransit;

namespace DistributedExecutor.Worker.Consumers;

/// <summary>Concurrency belongs here: a worker never runs more than its capacity at once.</summary>
internal sealed class ExecuteTaskConsumerDefinition : ConsumerDefinition<ExecuteTaskConsumer>
{
    public ExecuteTaskConsumerDefinition(WorkerNodes nodes)
    {
        ConcurrentMessageLimit = nodes.TotalCapacity;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<ExecuteTaskConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        // No retry: a failed command is an outcome to report, not an exception to retry.
    }
}
