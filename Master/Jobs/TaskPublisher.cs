using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Hosting.Bus;
using MassTransit;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// Sends ExecuteTask messages to their pool's queue (or, for fan-out, their worker's), persistent and confirmed
/// by the broker; <see cref="QueueTopology"/> says where that is and declares it first.
/// </summary>
internal sealed class TaskPublisher(IBus bus, QueueTopology topology) : ITaskPublisher
{
    private const int SendWindow = 256;

    public async Task PublishAsync(string pool, IReadOnlyList<ExecuteTask> tasks, CancellationToken cancellationToken)
    {
        foreach (var group in tasks.GroupBy(t => (t.TargetWorker, t.Priority)))
        {
            var address = group.Key.TargetWorker is { } worker
                ? topology.WorkerAddress(worker)
                : await topology.PoolAddressAsync(pool, group.Key.Priority, cancellationToken).ConfigureAwait(false);
            var endpoint = await bus.GetSendEndpoint(address).ConfigureAwait(false);
            foreach (var window in group.Chunk(SendWindow))
            {
                await Task.WhenAll(window.Select(t => endpoint.Send(t, cancellationToken))).ConfigureAwait(false);
            }
        }
    }
}
