using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Jobs.Store;

namespace DistributedExecutor.Master.Workers;

/// <summary>
/// Where several masters share the store: every second, the registrations and heartbeats this master heard go into
/// the store and what the others heard comes back, so any master lists every worker and none takes a worker whose
/// heartbeats land elsewhere for lost. One master alone has nothing to share.
/// </summary>
internal sealed partial class RegistrySync(IJobStore store, WorkerRegistry registry, TimeProvider time, ILogger<RegistrySync> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>How far behind the newest heartbeat taken in each exchange reads again (others' clocks, their interval).</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(10);

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!store.Shared)
        {
            return Task.CompletedTask;
        }

        var sent = DateTimeOffset.MinValue;
        DateTimeOffset? merged = null;
        return StoreDuty.EveryAsync(Interval, time, _ =>
        {
            var now = time.GetUtcNow();
            var heard = registry.HeardSince(sent);
            // The first time every worker still listed anywhere; then only heartbeats since the newest one taken in,
            // less a margin for the others' clocks and their second between exchanges.
            var since = merged is { } last ? last - Slack : now - registry.Timeout - registry.ForgetAfter;
            var rows = store.ExchangeWorkers(heard, since);
            registry.Merge(rows);
            merged = rows.Count == 0 ? merged ?? since + Slack : DateTimeOffset.FromUnixTimeMilliseconds(rows.Max(w => w.LastHeartbeat));
            sent = heard.Count == 0 ? sent : heard.Max(w => DateTimeOffset.FromUnixTimeMilliseconds(w.LastHeartbeat)) - TimeSpan.FromMilliseconds(1);
            return Task.CompletedTask;
        }, LogFailed, stoppingToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sharing the worker registry through the store failed; retrying")]
    private partial void LogFailed(Exception exception);
}
