using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Hosting.Bus;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// At start: tasks stored but never confirmed by the broker (the master died between the two) are published
/// now. With the in-memory bus the queues died with the process, so every unfinished task is queued again.
/// Where several masters share the store, <see cref="GoneMasterRecovery"/> does this instead.
/// </summary>
internal sealed partial class StartupRecovery(IJobStore store, TaskDispatcher dispatcher, QueueTopology topology, TimeProvider time, ILogger<StartupRecovery> logger, BrokerLink? broker = null) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (store.Shared)
        {
            // Other masters may be publishing their own stored tasks right now: what a gone master left is
            // published by the holder of the duties lease (GoneMasterRecovery), this master's old self included.
            return;
        }

        var inMemory = topology.InMemory;
        if (inMemory)
        {
            store.RequeueAllRunning("the master restarted and its in-memory queue was lost");
        }

        var pending = store.TasksToPublish(allUnfinished: inMemory);
        if (pending.Count == 0)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            if (broker is not null && !await broker.WaitUsableAsync(TimeSpan.FromMinutes(1), stoppingToken).ConfigureAwait(false))
            {
                // Started without the broker: BrokerLink logs the outage once; the tasks wait in the store.
                continue;
            }

            if (await StoreDuty.TryAsync(ct => dispatcher.DispatchRecoveredAsync(pending, ct), LogRetry, stoppingToken).ConfigureAwait(false))
            {
                LogRecovered(pending.Count);
                return;
            }

            await Task.Delay(TimeSpan.FromSeconds(2), time, stoppingToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Published {Count} task(s) recovered from the store")]
    private partial void LogRecovered(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovering stored tasks failed; retrying")]
    private partial void LogRetry(Exception exception);
}
