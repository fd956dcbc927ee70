using DistributedExecutor.Master.Jobs.Store;

namespace DistributedExecutor.Master.Consumers;

/// <summary>
/// Events are applied concurrently (they share the store's group commit), so one may arrive before another it
/// depends on that is in flight beside it: an output batch before its attempt's TaskStarted, a TaskFinished before
/// its attempt's output batches. The store says so (<see cref="EventPendingException"/>); the event is tried again
/// every 20 ms and, should what it waits for stop coming, applied without waiting once <see cref="Wait"/> has passed
/// with no progress (<see cref="EventPendingException.Progress"/>): a TaskFinished behind fifty output batches that
/// come back one retry after another waits for all of them, however long that takes, as long as they keep coming.
/// </summary>
internal static class PendingEvents
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    /// <summary>Runs <paramref name="apply"/> (its argument: whether it may still wait) until it no longer says pending.</summary>
    public static async Task<T> ApplyAsync<T>(Func<bool, Task<T>> apply, TimeProvider time, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + Wait;
        var progress = 0L;
        while (true)
        {
            try
            {
                return await apply(time.GetUtcNow() < deadline).ConfigureAwait(false);
            }
            catch (EventPendingException pending)
            {
                if (pending.Progress > progress)
                {
                    progress = pending.Progress;
                    deadline = time.GetUtcNow() + Wait;
                }

                await Task.Delay(Poll, time, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
