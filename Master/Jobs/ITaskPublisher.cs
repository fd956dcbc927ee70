using DistributedExecutor.Contracts.Messages;

namespace DistributedExecutor.Master.Jobs;

/// <summary>Puts tasks on their pool's queue; returns once the broker has confirmed every one.</summary>
internal interface ITaskPublisher
{
    Task PublishAsync(string pool, IReadOnlyList<ExecuteTask> tasks, CancellationToken cancellationToken);
}
