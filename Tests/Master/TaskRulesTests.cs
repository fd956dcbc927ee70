using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Jobs;

namespace DistributedExecutor.Tests.Master;

public sealed class TaskRulesTests
{
    [Theory]
    [InlineData(TaskState.Succeeded)]
    [InlineData(TaskState.Failed)]
    [InlineData(TaskState.TimedOut)]
    [InlineData(TaskState.Canceled)]
    public void OnStarted_TerminalTask_ChangesNothing(TaskState terminal) =>
        Assert.Null(TaskRules.OnStarted(terminal));

    [Fact]
    public void OnStarted_QueuedTask_Runs() => Assert.Equal(TaskState.Running, TaskRules.OnStarted(TaskState.Queued));

    [Fact]
    public void OnFinished_DuplicateAfterEnd_ChangesNothing() =>
        Assert.Null(TaskRules.OnFinished(TaskState.Succeeded, isLatestAttempt: true, TaskOutcome.Failed, cancelRequested: false));

    [Fact]
    public void OnFinished_AbandonedLatestAttempt_RequeuesTask() =>
        Assert.Equal(TaskState.Queued, TaskRules.OnFinished(TaskState.Running, isLatestAttempt: true, TaskOutcome.Abandoned, cancelRequested: false));

    [Fact]
    public void OnFinished_AbandonedOlderAttempt_LeavesNewerAttemptRunning() =>
        Assert.Null(TaskRules.OnFinished(TaskState.Running, isLatestAttempt: false, TaskOutcome.Abandoned, cancelRequested: false));

    [Fact]
    public void OnFinished_AbandonedWhileCancelRequested_Cancels() =>
        Assert.Equal(TaskState.Canceled, TaskRules.OnFinished(TaskState.Running, isLatestAttempt: true, TaskOutcome.Abandoned, cancelRequested: true));

    [Theory]
    [InlineData(TaskOutcome.Succeeded, TaskState.Succeeded)]
    [InlineData(TaskOutcome.Failed, TaskState.Failed)]
    [InlineData(TaskOutcome.TimedOut, TaskState.TimedOut)]
    [InlineData(TaskOutcome.Canceled, TaskState.Canceled)]
    public void OnFinished_RunningTask_TakesOutcome(TaskOutcome outcome, TaskState expected) =>
        Assert.Equal(expected, TaskRules.OnFinished(TaskState.Running, isLatestAttempt: true, outcome, cancelRequested: false));

    [Fact]
    public void DeriveJobState_DependsOnlyOnWhichStatesArePresent()
    {
        // The store reads which states a job's tasks are in, not how many are in each: for every set of states and
        // every way to cancel, the counts must not matter.
        var states = new[] { TaskState.Queued, TaskState.Running, TaskState.Succeeded, TaskState.Failed, TaskState.TimedOut, TaskState.Canceled, TaskState.Lost };
        for (var set = 0; set < 1 << states.Length; set++)
        {
            var present = states.Where((_, i) => (set & (1 << i)) != 0).ToList();
            var ones = present.ToDictionary(s => s, _ => 1);
            var many = present.Select((s, i) => (s, i)).ToDictionary(p => p.s, p => 2 + (p.i * 37 % 11));
            foreach (var canceledByUser in new[] { true, false })
            {
                Assert.Equal(TaskRules.DeriveJobState(many, canceledByUser), TaskRules.DeriveJobState(ones, canceledByUser));
            }
        }
    }

    [Fact]
    public void DeriveJobState_AllQueued_Queued() =>
        Assert.Equal(TaskState.Queued, TaskRules.DeriveJobState(new Dictionary<TaskState, int> { [TaskState.Queued] = 3 }));

    [Fact]
    public void DeriveJobState_SomeDoneSomeQueued_Running() =>
        Assert.Equal(TaskState.Running, TaskRules.DeriveJobState(new Dictionary<TaskState, int> { [TaskState.Queued] = 1, [TaskState.Succeeded] = 1 }));

    [Fact]
    public void DeriveJobState_AllSucceeded_Succeeded() =>
        Assert.Equal(TaskState.Succeeded, TaskRules.DeriveJobState(new Dictionary<TaskState, int> { [TaskState.Succeeded] = 5 }));

    [Fact]
    public void DeriveJobState_OneFailed_Failed() =>
        Assert.Equal(TaskState.Failed, TaskRules.DeriveJobState(new Dictionary<TaskState, int> { [TaskState.Succeeded] = 4, [TaskState.Failed] = 1 }));

    [Fact]
    public void DeriveJobState_CanceledWins() =>
        Assert.Equal(TaskState.Canceled, TaskRules.DeriveJobState(new Dictionary<TaskState, int> { [TaskState.Failed] = 1, [TaskState.Canceled] = 1 }));

    [Fact]
    public void DeriveJobState_OnlyTimedOut_TimedOut() =>
        Assert.Equal(TaskState.TimedOut, TaskRules.DeriveJobState(new Dictionary<TaskState, int> { [TaskState.TimedOut] = 1, [TaskState.Succeeded] = 1 }));
}
