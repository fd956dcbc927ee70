using DistributedExecutor.Master.Jobs.Store;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// Which master runs the duties (retries, lost workers, retention, history, schedules, recovery of what a gone master
/// left) where several share a store: the holder of the lease "duties" in the store, renewed every
/// <see cref="Renew"/> for <see cref="Ttl"/>. When the holder dies another master takes it once it expires, within
/// about <see cref="Ttl"/> plus one renewal. A holder that cannot renew stops its duties before its lease could have
/// passed to another. With one master (SQLite) it always holds it.
/// </summary>
internal sealed partial class DutyLease(IJobStore store, TimeProvider time, ILogger<DutyLease> logger) : BackgroundService
{
    public const string Name = "duties";
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan Renew = TimeSpan.FromSeconds(2);

    private long _heldUntil = store.Shared ? 0 : long.MaxValue;

    /// <summary>This master runs the duties now.</summary>
    public bool Held => time.GetUtcNow().ToUnixTimeMilliseconds() < Interlocked.Read(ref _heldUntil);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!store.Shared)
        {
            return;
        }

        var wasHeld = false;
        using var timer = new PeriodicTimer(Renew, time);
        do
        {
            // Counted from before the request: the lease may have been written at its very start.
            var asked = time.GetUtcNow();
            bool held;
            try
            {
                held = await Task.Run(() => store.HoldLease(Name, Ttl), stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogRenewFailed(ex);
                held = false;
            }

            if (held)
            {
                // A second of margin for clocks: another master takes it only after the full Ttl by its own clock.
                Interlocked.Exchange(ref _heldUntil, (asked + Ttl - TimeSpan.FromSeconds(1)).ToUnixTimeMilliseconds());
            }
            else if (wasHeld && !stoppingToken.IsCancellationRequested)
            {
                Interlocked.Exchange(ref _heldUntil, 0);
            }

            if (held != wasHeld)
            {
                LogChanged(store.Instance, held ? "took" : "lost");
                wasHeld = held;
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Master {Instance} {Change} the duties lease")]
    private partial void LogChanged(string instance, string change);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Renewing the duties lease failed")]
    private partial void LogRenewFailed(Exception exception);
}
