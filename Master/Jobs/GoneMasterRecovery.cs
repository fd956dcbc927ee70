using DistributedExecutor.Hosting.Bus;
using DistributedExecutor.Master.Jobs.Store;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// Where several masters share the store: what a master that died left unpublished (the rest of a big job's tasks
/// behind its answer, or a submission stored but not yet confirmed) is published by the holder of the duties lease
/// once the dead master's own lease has expired. One master alone does this at start (<see cref="StartupRecovery"/>).
/// </summary>
internal sealed partial class GoneMasterRecovery(IJobStore store, TaskDispatcher dispatcher, DutyLease lease, TimeProvider time, ILogger<GoneMasterRecovery> logger,
    BrokerLink? broker = null) : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(2);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        store.Shared ? StoreDuty.EveryAsync(Tick, time, RecoverAsync, LogFailed, stoppingToken, lease: lease) : Task.CompletedTask;

    private async Task RecoverAsync(CancellationToken stoppingToken)
    {
        if (broker is { Usable: false })
        {
            return;
        }

        var pending = store.TasksOfGoneMasters();
        if (pending.Count > 0)
        {
            await dispatcher.DispatchRecoveredAsync(pending, stoppingToken).ConfigureAwait(false);
            LogRecovered(pending.Count);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Published {Count} task(s) a gone master left unpublished")]
    private partial void LogRecovered(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing what a gone master left failed; retrying")]
    private partial void LogFailed(Exception exception);
}
