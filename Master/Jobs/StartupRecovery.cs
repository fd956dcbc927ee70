using DistributedExecutor.Master.Options;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// At start: tasks stored but never confirmed by the broker (the master died between the two) are published
/// now. With the in-memory bus the queues died with the process, so every unfinished task is queued again.
/// </summary>
internal sealed partial class StartupRecovery(JobStore store, ITaskPublisher publisher, MasterOptions options, ILogger<StartupRecovery> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var inMemory = options.RabbitMqUrl is null;
        if (inMemory)
        {
            store.RequeueAllRunning("the master restarted and its in-memory queue was lost");
        }

        var pending = store.TasksToPublish(allUnfinished: inMemory);
        if (pending.Count == 0)
        {
            return;
        }

        var defaultTimeout = TimeSpan.FromSeconds(options.DefaultTaskTimeoutSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                foreach (var group in pending.GroupBy(p => (p.Pool, p.JobId)))
                {
                    var messages = group.Select(p => TaskMessages.ToExecuteTask(p.JobId, p.TaskId, p.Index, p.Spec, defaultTimeout, p.Dispatch)).ToList();
                    await publisher.PublishAsync(group.Key.Pool, messages, stoppingToken).ConfigureAwait(false);
                    store.MarkPublished(group.Key.JobId);
                }

                LogRecovered(pending.Count);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogRetry(ex);
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Published {Count} task(s) recovered from the store")]
    private partial void LogRecovered(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovering stored tasks failed; retrying")]
    private partial void LogRetry(Exception exception);
}
