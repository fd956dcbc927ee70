using DistributedExecutor.Master.Consumers;
using DistributedExecutor.Master.Jobs.Store;

namespace DistributedExecutor.Tests.Master.Consumers;

/// <summary>
/// How long an event waits for what it depends on: while that keeps arriving, as long as it takes; once nothing more
/// arrives for <see cref="PendingEvents.Wait"/>, it is applied without waiting. The clock steps one second per try
/// before each try (the 20-ms pauses between tries are real).
/// </summary>
public sealed class PendingEventsTests
{
    private sealed class SteppedClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 11, 28, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public async Task Pending_WhileItsDependenciesKeepArriving_WaitsPastTheWait()
    {
        // One more output batch stored every 6 s for 60 s (six times the wait), then all of them are in.
        var (applied, tries) = await TryAsync((at, mayWait) => at >= TimeSpan.FromSeconds(60) || !mayWait
            ? Task.FromResult(mayWait)
            : throw new EventPendingException("not all stored yet", (long)(at.TotalSeconds / 6)));

        Assert.True(applied, "applied without waiting although its output kept arriving");
        Assert.All(tries, t => Assert.True(t.MayWait, $"told to stop waiting at {t.At}"));
        Assert.Equal(TimeSpan.FromSeconds(60), tries[^1].At);
    }

    [Fact]
    public async Task Pending_WhenItsDependenciesStopArriving_IsAppliedWithoutWaitingOneWaitLater()
    {
        // Batches arrive for 12 s, then no more: the event gives up waiting 10 s after the last one.
        var (applied, tries) = await TryAsync((at, mayWait) => mayWait
            ? throw new EventPendingException("not all stored yet", (long)(Math.Min(at.TotalSeconds, 12) / 6))
            : Task.FromResult(true));

        Assert.True(applied);
        // The last progress was seen at 12 s (the clock steps between a try and its check, hence one step's slack).
        Assert.InRange(tries[^1].At, TimeSpan.FromSeconds(12) + PendingEvents.Wait, TimeSpan.FromSeconds(13) + PendingEvents.Wait);
        Assert.False(tries[^1].MayWait);
        Assert.All(tries[..^1], t => Assert.True(t.MayWait));
    }

    /// <summary>Applies <paramref name="attempt"/> (given the time since the start and whether it may wait) as a consumer does.</summary>
    private static async Task<(bool Applied, List<(TimeSpan At, bool MayWait)> Tries)> TryAsync(Func<TimeSpan, bool, Task<bool>> attempt)
    {
        var clock = new SteppedClock();
        var start = clock.Now;
        var tries = new List<(TimeSpan At, bool MayWait)>();
        var applied = await PendingEvents.ApplyAsync(mayWait =>
        {
            clock.Now += TimeSpan.FromSeconds(1);
            tries.Add((clock.Now - start, mayWait));
            return attempt(clock.Now - start, mayWait);
        }, clock, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        return (applied, tries);
    }

    [Fact]
    public async Task Pending_Canceled_StopsTrying()
    {
        using var cancel = new CancellationTokenSource();
        var tries = 0;
        var run = PendingEvents.ApplyAsync<int>(_ =>
        {
            if (++tries == 3)
            {
                cancel.Cancel();
            }

            throw new EventPendingException("never");
        }, TimeProvider.System, cancel.Token);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(3, tries);
    }
}
