using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Jobs.Store;

namespace DistributedExecutor.Tests.Master.Jobs;

public sealed class JobLimitsTests
{
    [Theory]
    [InlineData(0, 0, null, 500, 500)]
    [InlineData(2, 0, null, 10, 2)]
    [InlineData(20, 0, null, 10, 10)]
    [InlineData(0, 0, 3L, 10, 3)]
    [InlineData(2, 0, 3L, 10, 2)]
    [InlineData(5, 0, 3L, 10, 3)]
    [InlineData(0, 0, 0L, 10, 0)]
    [InlineData(0, 0, -2L, 10, 0)]
    [InlineData(4, 3, null, 10, 1)]
    [InlineData(4, 4, null, 10, 0)]
    [InlineData(4, 6, null, 10, 0)]
    [InlineData(4, 1, 2L, 10, 2)]
    [InlineData(4, 1, 5L, 10, 3)]
    [InlineData(4, 1, 5L, 1, 1)]
    public void MayGo_WithinMaxParallelLessBusyTheKeysRoomAndTheHeld(long maxParallel, long busy, long? keyRoom, long held, long going) =>
        Assert.Equal(going, JobLimits.MayGo(maxParallel, busy, keyRoom, held));

    [Theory]
    [InlineData(0, 100, false)]
    [InlineData(3, 2, false)]
    [InlineData(3, 3, true)]
    [InlineData(3, 4, true)]
    public void SkipsTheRest_OnceFailuresReachMaxErrors(long maxErrors, long failed, bool skips) =>
        Assert.Equal(skips, JobLimits.SkipsTheRest(maxErrors, failed));

    [Fact]
    public void SkippedReason_NamesTheCountAndTheLimit() =>
        Assert.Equal("not started: 3 task(s) failed, the most --max-errors allows (3)", JobLimits.SkippedReason(3, 3));

    [Fact]
    public void StoredStates_RoundTripEveryStoredApiState_RefuseUnspecifiedAndScheduled()
    {
        foreach (var state in Enum.GetValues<TaskState>().Where(s => s is not (TaskState.Unspecified or TaskState.Scheduled or TaskState.Waiting)))
        {
            Assert.Equal(state, state.ToStored().ToApi());
            Assert.Equal(state, StoredStates.FromColumn(StoredStates.Column(state)));
        }

        // Scheduled is never stored: a job is Queued with a not_before still ahead, and reads as Scheduled.
        Assert.Throws<ArgumentOutOfRangeException>(() => TaskState.Scheduled.ToStored());
        Assert.Throws<ArgumentOutOfRangeException>(() => TaskState.Waiting.ToStored());
        Assert.Throws<ArgumentOutOfRangeException>(() => TaskState.Unspecified.ToStored());
        Assert.Throws<InvalidDataException>(() => StoredStates.FromColumn(42));
    }
}
