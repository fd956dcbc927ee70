using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Jobs.Store;

namespace DistributedExecutor.Tests.Master.Jobs;

public sealed class JobLimitsTests
{
    [Theory]
    [InlineData(0, 0, false)]
    [InlineData(0, 500, false)]
    [InlineData(2, 0, false)]
    [InlineData(2, 1, false)]
    [InlineData(2, 2, true)]
    [InlineData(2, 9, true)]
    public void HeldAtSubmission_TasksPastMaxParallelWait(int maxParallel, int index, bool held) =>
        Assert.Equal(held, JobLimits.HeldAtSubmission(maxParallel, index));

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
        foreach (var state in Enum.GetValues<TaskState>().Where(s => s is not (TaskState.Unspecified or TaskState.Scheduled)))
        {
            Assert.Equal(state, state.ToStored().ToApi());
            Assert.Equal(state, StoredStates.FromColumn(StoredStates.Column(state)));
        }

        // Scheduled is never stored: a job is Queued with a not_before still ahead, and reads as Scheduled.
        Assert.Throws<ArgumentOutOfRangeException>(() => TaskState.Scheduled.ToStored());
        Assert.Throws<ArgumentOutOfRangeException>(() => TaskState.Unspecified.ToStored());
        Assert.Throws<InvalidDataException>(() => StoredStates.FromColumn(42));
    }
}
