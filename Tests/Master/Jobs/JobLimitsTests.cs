using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Jobs.Store;

namespace DistributedExecutor.Tests.Master.Jobs;

public sealed class JobLimitsTests
{
    [Theory]
    [InlineData(0, null, 500, 500)]
    [InlineData(2, null, 10, 2)]
    [InlineData(20, null, 10, 10)]
    [InlineData(0, 3L, 10, 3)]
    [InlineData(2, 3L, 10, 2)]
    [InlineData(5, 3L, 10, 3)]
    [InlineData(0, 0L, 10, 0)]
    [InlineData(0, -2L, 10, 0)]
    public void GoingAtSubmission_WithinMaxParallelAndTheKeysRoom(int maxParallel, long? keyRoom, int tasks, long going) =>
        Assert.Equal(going, JobLimits.GoingAtSubmission(maxParallel, keyRoom, tasks));

    [Theory]
    [InlineData(0, 100, false)]
    [InlineData(3, 2, false)]
    [InlineData(3, 3, true)]
    [InlineData(3, 4, true)]
    public void SkipsTheRest_OnceFailuresReachMaxErrors(long maxErrors, long failed, bool skips) =>
        Assert.Equal(skips, JobLimits.SkipsTheRest(maxErrors, failed));

    [Theory]
    [InlineData(0, 0, 0)]
    [InlineData(4, 0, 4)]
    [InlineData(4, 3, 1)]
    [InlineData(4, 4, 0)]
    [InlineData(4, 6, 0)]
    public void Releasable_FillsUpToMaxParallelNeverBelowZero(long maxParallel, long busy, long free) =>
        Assert.Equal(free, JobLimits.Releasable(maxParallel, busy));

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
