using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Master.Options;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// Every HISTORY_INTERVAL_SECONDS: the tasks that ended in the interval and each pool's queue at its end, stored
/// (so the dashboard's charts survive a restart) and kept for a day. Where several masters share the store, each adds
/// the tasks that ended on it to the interval's row (the interval's start, the same for all), and the holder of the
/// duties' lease records the queues and forgets old rows.
/// </summary>
internal sealed partial class HistoryRecorder(IJobStore store, DistexecMetrics metrics, Workers.WorkerRegistry registry, MasterOptions options, TimeProvider time, ILogger<HistoryRecorder> logger, DutyLease? lease = null) : BackgroundService
{
    public static readonly TimeSpan Kept = TimeSpan.FromDays(1);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        StoreDuty.EveryAsync(TimeSpan.FromSeconds(options.HistoryIntervalSeconds), time, _ =>
        {
            RecordNow();
            return Task.CompletedTask;
        }, LogFailed, stoppingToken, lease: store.Shared ? null : lease);

    /// <summary>Stores the interval that ends now.</summary>
    public void RecordNow()
    {
        var now = time.GetUtcNow();
        var (succeeded, failed) = metrics.TakeFinished();
        var points = new List<HistoryPoint> { new() { Pool = "", Succeeded = succeeded, Failed = failed } };
        // Shared: every master's row for an interval has the same time, its start.
        var interval = TimeSpan.FromSeconds(options.HistoryIntervalSeconds).Ticks;
        var at = store.Shared ? new DateTimeOffset(now.UtcTicks / interval * interval, TimeSpan.Zero) : now;
        if (store.Shared && lease is { Held: false })
        {
            store.RecordHistory(at, points, keepSince: null, addEnded: true);
            return;
        }

        AddQueues(points);
        store.RecordHistory(at, points, now - Kept, addEnded: store.Shared);
    }

    /// <summary>Every pool with tasks or live workers, an empty queue as a zero (a line that drops to the floor, not one that stops).</summary>
    private void AddQueues(List<HistoryPoint> points)
    {
        var counts = store.PoolCounts();
        foreach (var pool in counts.Keys.Union(registry.AliveByPool().Keys).Order(StringComparer.Ordinal))
        {
            var (queued, running) = counts.GetValueOrDefault(pool);
            points.Add(new HistoryPoint { Pool = pool, Queued = queued, Running = running });
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording the dashboard's history failed; the next interval tries again")]
    private partial void LogFailed(Exception exception);
}
