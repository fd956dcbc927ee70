using DistributedExecutor.Executors;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Worker.Consumers;
using DistributedExecutor.Worker.Options;
using DistributedExecutor.Worker.Running;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace DistributedExecutor.Tests.Worker.Consumers;

/// <summary>
/// The worker's <see cref="ExecuteTaskConsumer"/> in MassTransit's test harness with the executors and nodes a test
/// gives (a unit test of the consumer, not of the broker); disposing stops the harness and its services.
/// </summary>
internal sealed class ConsumerHarness : IAsyncDisposable
{
    private ConsumerHarness(ServiceProvider services, ITestHarness harness) => (Services, Harness) = (services, harness);

    public ServiceProvider Services { get; }

    public ITestHarness Harness { get; }

    public static async Task<ConsumerHarness> StartAsync(TimeProvider time, ExecutorRegistry executors, WorkerNodes nodes)
    {
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton(new WorkerOptions())
            .AddSingleton(time)
            .AddSingleton(new DistexecMetrics())
            .AddSingleton(executors)
            .AddSingleton(nodes)
            .AddSingleton<RunningTasks>()
            .AddMassTransitTestHarness(bus => bus.AddConsumer<ExecuteTaskConsumer>())
            .BuildServiceProvider(true);
        var harness = services.GetRequiredService<ITestHarness>();
        await harness.Start();
        return new ConsumerHarness(services, harness);
    }

    public async ValueTask DisposeAsync()
    {
        await Harness.Stop();
        await Services.DisposeAsync();
    }
}
