using System.Collections.Concurrent;
using DistributedExecutor.Contracts.Messages;
using MassTransit;
using RabbitMQ.Client;

namespace DistributedExecutor.Hosting.Bus;

/// <summary>
/// The queues tasks travel on, in one place for master and workers: their names' addresses on either transport
/// (RabbitMQ, or in-memory for the embedded mode), their arguments, and their declaration. The task queues are
/// quorum queues whose messages go to <see cref="QueueNames.DeadTasks"/> once delivered more than the limit (a
/// task that kills its worker every time), where the master marks the task failed. Nothing outside this type and
/// <see cref="BusExtensions"/> knows which transport is in use, so the bus library could change behind it.
/// </summary>
internal sealed class QueueTopology(Uri? rabbitMqUrl, int deliveryLimit)
{
    private readonly ConcurrentDictionary<string, Uri> _pools = new();
    private readonly SemaphoreSlim _declareGate = new(1, 1);

    /// <summary>The in-memory transport: its queues die with the process.</summary>
    public bool InMemory => rabbitMqUrl is null;

    public static Dictionary<string, object?> TaskQueueArguments(int deliveryLimit) => new()
    {
        ["x-queue-type"] = "quorum",
        ["x-delivery-limit"] = deliveryLimit,
        ["x-dead-letter-exchange"] = QueueNames.DeadTasks,
    };

    /// <summary>A receive endpoint on a task queue: declared with exactly the arguments the master declares.</summary>
    public static void ConfigureTaskQueue(IReceiveEndpointConfigurator endpoint, int deliveryLimit, TimeSpan? expiresUnused = null)
    {
        if (endpoint is not IRabbitMqReceiveEndpointConfigurator rabbit)
        {
            return;
        }

        rabbit.SetQuorumQueue();
        foreach (var (key, value) in TaskQueueArguments(deliveryLimit).Where(a => a.Key != "x-queue-type"))
        {
            rabbit.SetQueueArgument(key, value);
        }

        if (expiresUnused is { } expires)
        {
            rabbit.SetQueueArgument("x-expires", (int)expires.TotalMilliseconds);
        }
    }

    /// <summary>Where a fan-out task for one worker goes: the exchange that worker's endpoint made.</summary>
    public Uri WorkerAddress(string workerId) =>
        new(InMemory ? $"queue:{QueueNames.Worker(workerId)}" : $"exchange:{QueueNames.Worker(workerId)}");

    /// <summary>
    /// Where a pool's tasks of a priority go. On RabbitMQ the pool's queue is declared (once per process) before the first send,
    /// exactly as the workers declare it, so tasks submitted before any worker of the pool started wait in the
    /// queue instead of vanishing. MassTransit's send addresses cannot carry queue arguments, hence the client.
    /// </summary>
    public async Task<Uri> PoolAddressAsync(string pool, int priority, CancellationToken cancellationToken)
    {
        var queue = QueueNames.Tasks(pool, priority);
        if (_pools.TryGetValue(queue, out var known))
        {
            return known;
        }

        if (rabbitMqUrl is not { } url)
        {
            return _pools[queue] = new Uri($"queue:{queue}");
        }

        await _declareGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_pools.TryGetValue(queue, out known))
            {
                return known;
            }

            var (host, username, password) = BusExtensions.SplitCredentials(url);
            var factory = new ConnectionFactory { Uri = host, UserName = username, Password = password, ClientProvidedName = "distexec-master-declare" };
            await using var connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                arguments: TaskQueueArguments(deliveryLimit), cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueBindAsync(queue, queue, "", cancellationToken: cancellationToken).ConfigureAwait(false);
            return _pools[queue] = new Uri($"exchange:{queue}");
        }
        finally
        {
            _declareGate.Release();
        }
    }
}
