using System.Collections.Concurrent;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Hosting.Bus;
using DistributedExecutor.Master.Options;
using MassTransit;
using RabbitMQ.Client;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// Sends ExecuteTask messages to their pool's queue, persistent and confirmed by the broker. The master
/// declares each pool's quorum queue itself before the first send, exactly as the workers declare it, so
/// tasks submitted before any worker of the pool ever started wait in the queue instead of vanishing.
/// </summary>
internal sealed class TaskPublisher(IBus bus, MasterOptions options) : ITaskPublisher
{
    private const int SendWindow = 256;
    private readonly ConcurrentDictionary<string, Uri> _addresses = new();
    private readonly SemaphoreSlim _declareGate = new(1, 1);

    public async Task PublishAsync(string pool, IReadOnlyList<ExecuteTask> tasks, CancellationToken cancellationToken)
    {
        // Tasks for one worker (fan-out) go to that worker's own queue, through the exchange its endpoint made.
        foreach (var group in tasks.GroupBy(t => t.TargetWorker))
        {
            var address = group.Key is { } worker
                ? new Uri(options.RabbitMqUrl is null ? $"queue:{QueueNames.Worker(worker)}" : $"exchange:{QueueNames.Worker(worker)}")
                : await AddressAsync(pool, cancellationToken).ConfigureAwait(false);
            var endpoint = await bus.GetSendEndpoint(address).ConfigureAwait(false);
            foreach (var window in group.Chunk(SendWindow))
            {
                await Task.WhenAll(window.Select(t => endpoint.Send(t, cancellationToken))).ConfigureAwait(false);
            }
        }
    }

    private async Task<Uri> AddressAsync(string pool, CancellationToken cancellationToken)
    {
        if (_addresses.TryGetValue(pool, out var known))
        {
            return known;
        }

        var queue = QueueNames.Tasks(pool);
        if (options.RabbitMqUrl is not { } url)
        {
            return _addresses[pool] = new Uri($"queue:{queue}");
        }

        await _declareGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_addresses.TryGetValue(pool, out known))
            {
                return known;
            }

            var (host, username, password) = BusExtensions.SplitCredentials(url);
            var factory = new ConnectionFactory
            {
                Uri = host,
                UserName = username,
                Password = password,
                ClientProvidedName = "distexec-master-declare",
            };
            await using var connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                arguments: BusExtensions.TaskQueueArguments(options.DeliveryLimit),
                cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueBindAsync(queue, queue, "", cancellationToken: cancellationToken).ConfigureAwait(false);
            return _addresses[pool] = new Uri($"exchange:{queue}");
        }
        finally
        {
            _declareGate.Release();
        }
    }
}
