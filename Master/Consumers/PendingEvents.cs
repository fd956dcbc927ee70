using DistributedExecutor.Master.Jobs.Store;

namespace DistributedExecutor.Master.Consumers;

/// <summary>
/// Events are applied concurrently (they share the store's group commit), so one may arrive before another it
/// depends on that is in flight beside it: an output batch before its attempt's TaskStarted, a TaskFinished before
/// its attempt's output batches. The store says so (<see cref="EventPendingException"/>); the event is tried again
/// every 20 ms and, should what it waits for never come, applied without waiting after <see cref="Wait"/>.
/// </summary>
internal static class PendingEvents
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    /// <summary>Runs <paramref name="apply"/> (its argument: whether it may still wait) until it no longer says pending.</summary>
    public static async Task<T> ApplyAsync<T>(Func<bool, Task<T>> apply, TimeProvider time, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + Wait;
        while (true)
        {
            try
            {
                return await apply(time.GetUtcNow() < deadline).ConfigureAwait(false);
            }
            catch (EventPendingException)
            {
                await Task.Delay(Poll, time, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
