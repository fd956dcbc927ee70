using DistributedExecutor.Master.Jobs.Store;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// How the master's background duties (retries, lost workers, retention, start-up recovery) meet failure: a full
/// store stays quiet (the store logged it once and logs again when it is writable), any other failure is logged by
/// the duty, and the duty is tried again later. Stopping the master ends the duty.
/// </summary>
internal static class StoreDuty
{
    /// <summary>Runs <paramref name="duty"/> on every tick of <paramref name="interval"/>; after a failure waits <paramref name="pauseAfterFailure"/> more.</summary>
    /// <remarks>Where several masters share the store, only the holder of the <paramref name="lease"/> runs it.</remarks>
    public static async Task EveryAsync(TimeSpan interval, TimeProvider time, Func<CancellationToken, Task> duty, Action<Exception> logFailed,
        CancellationToken stoppingToken, TimeSpan pauseAfterFailure = default, DutyLease? lease = null)
    {
        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            if (lease is { Held: false })
            {
                continue;
            }

            if (!await TryAsync(duty, logFailed, stoppingToken).ConfigureAwait(false) && pauseAfterFailure > TimeSpan.Zero)
            {
                await Task.Delay(pauseAfterFailure, time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs <paramref name="duty"/> once: true when it succeeded, false when it failed (and was logged unless the store is full).</summary>
    public static async Task<bool> TryAsync(Func<CancellationToken, Task> duty, Action<Exception> logFailed, CancellationToken stoppingToken)
    {
        try
        {
            await duty(stoppingToken).ConfigureAwait(false);
            return true;
        }
        catch (StoreFullException) when (!stoppingToken.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            logFailed(ex);
            return false;
        }
    }
}
