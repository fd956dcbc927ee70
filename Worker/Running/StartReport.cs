namespace DistributedExecutor.Worker.Running;

/// <summary>
/// An attempt's TaskStarted, sent only when it tells the master something its TaskFinished would not tell at once:
/// after <see cref="Delay"/> of running, or before the attempt's first output batch, whichever comes first. A task
/// that ends sooner is reported by its TaskFinished alone, which records the attempt just as TaskStarted would (same
/// worker, start time, dispatch and delivery count): one persistent message, one master transaction and one
/// watcher wake-up fewer for every short task.
/// </summary>
internal sealed class StartReport : IDisposable
{
    /// <summary>How long an attempt runs before its TaskStarted goes out.</summary>
    public static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(100);

    private const int NotSent = 0, Sent = 1, NotNeeded = 2;
    private readonly Func<Task> _publish;
    private readonly TaskCompletionSource _confirmed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITimer _timer;
    private int _state;

    public StartReport(Func<Task> publish, TimeProvider time)
    {
        _publish = publish;
        _timer = time.CreateTimer(_ => _ = SendAsync(), null, Delay, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Sends TaskStarted unless it went already; completes once the broker confirmed it.</summary>
    public Task SendAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Sent, NotSent) == NotSent)
        {
            _ = PublishAsync();
        }

        return _confirmed.Task;
    }

    /// <summary>
    /// Before TaskFinished: when TaskStarted went out, waits for its confirmation (the master then sees the two in
    /// order); when it had not, it never will.
    /// </summary>
    public Task BeforeFinishedAsync()
    {
        _timer.Dispose();
        return Interlocked.CompareExchange(ref _state, NotNeeded, NotSent) == NotSent ? Task.CompletedTask : _confirmed.Task;
    }

    public void Dispose() => _timer.Dispose();

    private async Task PublishAsync()
    {
        try
        {
            await _publish().ConfigureAwait(false);
            _confirmed.TrySetResult();
        }
        catch (Exception ex)
        {
            _confirmed.TrySetException(ex);
        }
    }
}
