using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Master.Options;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// Removes finished jobs (and their output) JOB_RETENTION_HOURS after they ended, in small batches with the
/// store free between them, so submissions never wait behind a large clean-up. Queued and running jobs stay.
/// </summary>
internal sealed partial class RetentionService(IJobStore store, MasterOptions options, TimeProvider time, ILogger<RetentionService> logger, DutyLease? lease = null) : BackgroundService
{
    private const int Batch = 100;

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // SQLite needs room in its log even to delete: with the store full the clean-up waits for a later tick.
        var retention = TimeSpan.FromHours(options.JobRetentionHours);
        var interval = TimeSpan.FromTicks(Math.Clamp(retention.Ticks / 2, TimeSpan.FromMilliseconds(500).Ticks, TimeSpan.FromMinutes(1).Ticks));
        return StoreDuty.EveryAsync(interval, time, ct => RemoveAsync(retention, ct), LogFailed, stoppingToken, lease: lease);
    }

    private async Task RemoveAsync(TimeSpan retention, CancellationToken stoppingToken)
    {
        var removed = 0;
        int batch;
        do
        {
            batch = store.DeleteFinishedBefore(time.GetUtcNow() - retention, Batch);
            removed += batch;
            await Task.Yield();
        }
        while (batch == Batch && !stoppingToken.IsCancellationRequested);

        if (removed > 0)
        {
            LogRemoved(removed, options.JobRetentionHours);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} job(s) finished more than {Hours}h ago (JOB_RETENTION_HOURS)")]
    private partial void LogRemoved(int count, double hours);

    [LoggerMessage(Level = LogLevel.Error, Message = "Removing old jobs failed; trying again later")]
    private partial void LogFailed(Exception exception);
}
