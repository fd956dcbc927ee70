using DistributedExecutor.Worker.Options;
using MassTransit;

namespace DistributedExecutor.Worker.Running;

/// <summary>
/// WORKER_IDLE_EXIT_SECONDS: a worker run as a Kubernetes Job (KEDA ScaledJob) stops once it has had nothing to
/// run for that long, so its Job completes. Zero (the default) keeps the worker running.
/// </summary>
internal sealed partial class IdleExitService(WorkerOptions options, WorkerNodes nodes, IBusControl bus, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<IdleExitService> logger) : BackgroundService
{
    /// <summary>How often it looks.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(500);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.IdleExitSeconds == 0)
        {
            return;
        }

        var idleFor = TimeSpan.FromSeconds(options.IdleExitSeconds);
        var lastBusy = time.GetUtcNow();
        var consuming = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(Tick, time, stoppingToken).ConfigureAwait(false);
            // Idle time counts from when the worker consumes its queue, not from process start.
            if (!consuming)
            {
                consuming = bus.CheckHealth().Status == BusHealthStatus.Healthy;
                lastBusy = time.GetUtcNow();
            }
            else if (nodes.All.Any(n => n.Running > 0))
            {
                lastBusy = time.GetUtcNow();
            }
            else if (time.GetUtcNow() - lastBusy >= idleFor)
            {
                LogIdleExit(options.IdleExitSeconds);
                lifetime.StopApplication();
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Nothing to run for {Seconds}s (WORKER_IDLE_EXIT_SECONDS); stopping")]
    private partial void LogIdleExit(int seconds);
}
