using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Hosting.Bus;
using DistributedExecutor.Master.Options;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// Publishes retries, and the tasks of jobs submitted for later (JobSpec.not_before), when they fall due. The schedule lives in the store (table retries), so a master restart
/// keeps every pending retry and its time; a retry leaves the schedule only once the broker confirmed it.
/// </summary>
internal sealed partial class RetryScheduler(IJobStore store, TaskDispatcher dispatcher, MasterOptions options, TimeProvider time, ILogger<RetryScheduler> logger, BrokerLink? broker = null, DutyLease? lease = null) : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    // The broker away or the store full: the retries stay scheduled and go out on a later tick.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        StoreDuty.EveryAsync(Tick, time, PublishDueAsync, LogFailed, stoppingToken, pauseAfterFailure: TimeSpan.FromSeconds(1), lease: lease);

    private async Task PublishDueAsync(CancellationToken stoppingToken)
    {
        if (broker is { Usable: false })
        {
            // The broker is away (BrokerLink said so once): the retries stay scheduled until it is back.
            return;
        }

        foreach (var retry in store.DueRetries(256))
        {
            using var publishTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(options.PublishTimeoutSeconds), time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, publishTimeout.Token);
            await dispatcher.DispatchRetryAsync(retry, timeout.Token).ConfigureAwait(false);
            if (retry.Dispatch == 1)
            {
                LogScheduled(retry.TaskId, retry.JobId);
            }
            else
            {
                LogPublished(retry.TaskId, retry.JobId, retry.Dispatch);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retrying task {TaskId} of job {JobId} (run {Dispatch})")]
    private partial void LogPublished(Guid taskId, Guid jobId, int dispatch);

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskId} of job {JobId} published at its scheduled time")]
    private partial void LogScheduled(Guid taskId, Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing due retries failed; they stay scheduled")]
    private partial void LogFailed(Exception exception);
}
