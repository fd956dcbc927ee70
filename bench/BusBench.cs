using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Hosting.Bus;
using MassTransit;

namespace DistributedExecutor.Bench;

/// <summary>A request of the bus baseline.</summary>
public sealed record BenchPing(Guid Id);

/// <summary>The event that answers it.</summary>
public sealed record BenchPong(Guid Id);

/// <summary>
/// What the broker and MassTransit alone cost: the bus baseline (a request sent to a quorum queue, an event
/// published back to another, both persistent and confirmed, as a task's ExecuteTask and TaskFinished are), and
/// synthetic workers that answer each ExecuteTask with its events at once, without starting a process.
/// </summary>
internal static class BusBench
{
    /// <summary>A bus on the broker as the system builds its own: publisher confirms, heartbeats, a connection name, its message format.</summary>
    private static IBusControl CreateBus(Uri brokerUrl, string name, Action<IRabbitMqBusFactoryConfigurator> endpoints) =>
        Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.ConfigureHost(brokerUrl, name);
            cfg.UseMessageFormat();
            endpoints(cfg);
        });

    /// <summary>
    /// Round trips per second and their count, <paramref name="inFlight"/> at a time: the client sends BenchPing to a
    /// quorum queue, a consumer on a second connection publishes BenchPong, the client's quorum queue receives it.
    /// </summary>
    public static async Task<double> BusBaselineAsync(Uri brokerUrl, int count, int inFlight, int prefetch)
    {
        var waiting = new ConcurrentDictionary<Guid, TaskCompletionSource>();
        var responder = CreateBus(brokerUrl, "bench-bus-responder", cfg => cfg.ReceiveEndpoint("bench.ping", e =>
        {
            e.SetQuorumQueue();
            e.PrefetchCount = prefetch;
            e.Handler<BenchPing>(context => context.Publish(new BenchPong(context.Message.Id)));
        }));
        var client = CreateBus(brokerUrl, "bench-bus-client", cfg => cfg.ReceiveEndpoint("bench.pong", e =>
        {
            e.SetQuorumQueue();
            e.PrefetchCount = prefetch;
            e.Handler<BenchPong>(context =>
            {
                if (waiting.TryRemove(context.Message.Id, out var done))
                {
                    done.TrySetResult();
                }

                return Task.CompletedTask;
            });
        }));
        await responder.StartAsync();
        await client.StartAsync();
        try
        {
            // The exchange the responder's endpoint made (a "queue:" address would declare the quorum queue again as classic).
            var endpoint = await client.GetSendEndpoint(new Uri("exchange:bench.ping"));
            async Task RoundTripAsync()
            {
                var id = Guid.NewGuid();
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                waiting[id] = done;
                await endpoint.Send(new BenchPing(id));
                await done.Task.WaitAsync(TimeSpan.FromSeconds(60));
            }

            await Scenarios.ForEachAsync(Math.Min(1000, count), inFlight, _ => RoundTripAsync());
            var clock = Stopwatch.StartNew();
            await Scenarios.ForEachAsync(count, inFlight, _ => RoundTripAsync());
            return count / clock.Elapsed.TotalSeconds;
        }
        finally
        {
            await client.StopAsync();
            await responder.StopAsync();
        }
    }

    /// <summary>
    /// Synthetic workers for a pool: each ExecuteTask is answered at once, exactly as a real worker reports a task that
    /// ends within its first 50 ms: one TaskFinished, carrying what echo would have printed as the attempt's only output
    /// batch, with the dispatch and delivery count it ran under, and no TaskStarted or TaskOutput of its own.
    /// </summary>
    public static async Task<IAsyncDisposable> StartSyntheticWorkersAsync(Uri brokerUrl, string pool, int concurrency, int deliveryLimit)
    {
        var bus = CreateBus(brokerUrl, "bench-synthetic-workers", cfg => cfg.ReceiveEndpoint(QueueNames.Tasks(pool), e =>
        {
            e.PrefetchCount = concurrency;
            e.ConfigureConsumeTopology = false;
            QueueTopology.ConfigureTaskQueue(e, deliveryLimit);
            e.Handler<ExecuteTask>(async context =>
            {
                var task = context.Message;
                var attempt = NewId.NextGuid();
                var started = DateTimeOffset.UtcNow;
                var printed = Encoding.UTF8.GetBytes(string.Join(' ', task.Command?.Args ?? []) + "\n");
                var output = new TaskOutput(task.JobId, task.TaskId, attempt, 0, [new OutputChunkData(OutputStreamKind.Stdout, printed)]);
                await context.Publish(new TaskFinished(task.JobId, task.TaskId, attempt, "synthetic", TaskOutcome.Succeeded, 0, null, null, false,
                    started, DateTimeOffset.UtcNow, Output: output, Dispatch: task.Dispatch, DeliveryCount: 1, OutputBatches: 1));
            });
        }));
        await bus.StartAsync();
        return new Stopper(bus);
    }

    private sealed class Stopper(IBusControl bus) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await bus.StopAsync();
    }
}
