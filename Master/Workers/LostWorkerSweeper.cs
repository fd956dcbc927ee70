using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Options;

namespace DistributedExecutor.Master.Workers;

/// <summary>
/// Once a second: attempts running on a worker that stopped heartbeating are marked lost and their tasks
/// shown as queued again (the broker hands their messages to another worker once the lost worker's
/// connection is gone). Right after a master start, workers get one heartbeat timeout to reappear.
/// </summary>
internal sealed partial class LostWorkerSweeper(
    IJobStore store,
    WorkerRegistry registry,
    TaskDispatcher dispatcher,
    DistexecMetrics metrics,
    TimeProvider time,
    ILogger<LostWorkerSweeper> logger,
    DutyLease? lease = null) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        StoreDuty.EveryAsync(TimeSpan.FromSeconds(1), time, SweepAsync, LogSweepFailed, stoppingToken, lease: lease);

    private async Task SweepAsync(CancellationToken stoppingToken)
    {
        if (time.GetUtcNow() - registry.StartedAt < registry.Timeout)
        {
            return;
        }

        var lost = registry.NewlyLost();
        metrics.WorkersLost.Add(lost.Count);
        foreach (var worker in lost)
        {
            // Its own queue has no other consumer: fan-out copies it had not finished end as lost.
            var released = store.FailTasksOfLostWorker(worker);
            await dispatcher.DispatchAsync(released, stoppingToken).ConfigureAwait(false);
        }

        foreach (var worker in store.WorkersWithRunningAttempts())
        {
            if (!registry.IsAlive(worker))
            {
                var jobs = store.MarkWorkerLost(worker, $"worker {worker} lost: no heartbeat for {registry.Timeout.TotalSeconds:0}s");
                LogLost(worker, jobs.Count);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId} lost; {Count} running attempt(s) marked lost")]
    private partial void LogLost(string workerId, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Lost-worker sweep failed")]
    private partial void LogSweepFailed(Exception exception);
}
