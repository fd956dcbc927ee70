using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Worker.Running;
using Microsoft.Extensions.Time.Testing;

namespace DistributedExecutor.Tests.Worker.Running;

public sealed class PrioritySlotsTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void FreeSlots_GoAtOnce_ThenTasksWait()
    {
        var slots = new PrioritySlots(2, _time);

        Assert.True(slots.EnterAsync(TaskPriority.Normal, default).IsCompletedSuccessfully);
        Assert.True(slots.EnterAsync(TaskPriority.Low, default).IsCompletedSuccessfully);
        Assert.False(slots.EnterAsync(TaskPriority.High, default).IsCompleted);
        Assert.Equal((1, 0, 0), slots.Waiting);
    }

    [Fact]
    public void FreedSlot_GoesToTheHighestWaiting_WhateverArrivedFirst()
    {
        var slots = new PrioritySlots(1, _time);
        Assert.True(slots.EnterAsync(TaskPriority.Normal, default).IsCompleted);
        var low = slots.EnterAsync(TaskPriority.Low, default);
        var normal = slots.EnterAsync(TaskPriority.Normal, default);
        var high = slots.EnterAsync(TaskPriority.High, default);

        slots.Leave(TaskPriority.Normal);
        Assert.True(high.IsCompletedSuccessfully);
        Assert.False(normal.IsCompleted || low.IsCompleted);

        // A high task's slot is kept for the next high one a moment (its queue delivers it one ack later) ...
        slots.Leave(TaskPriority.High);
        Assert.False(normal.IsCompleted);
        var nextHigh = slots.EnterAsync(TaskPriority.High, default);
        Assert.True(nextHigh.IsCompletedSuccessfully);

        // ... and once none came within the linger, the slot goes to the highest waiting.
        slots.Leave(TaskPriority.High);
        _time.Advance(PrioritySlots.Linger);
        Assert.True(normal.IsCompletedSuccessfully);
        Assert.False(low.IsCompleted);
        slots.Leave(TaskPriority.Normal);
        _time.Advance(PrioritySlots.Linger);
        Assert.True(low.IsCompletedSuccessfully);
    }

    [Fact]
    public void ALowTask_IsPassedOverAtMostPassLimitTimes()
    {
        var slots = new PrioritySlots(1, _time);
        Assert.True(slots.EnterAsync(TaskPriority.High, default).IsCompleted);
        var low = slots.EnterAsync(TaskPriority.Low, default);

        // A stream of high tasks, each arriving while the slot is kept for it.
        var passed = 0;
        while (!low.IsCompleted)
        {
            slots.Leave(TaskPriority.High);
            var high = slots.EnterAsync(TaskPriority.High, default);
            if (high.IsCompleted)
            {
                passed++;
            }
            else
            {
                Assert.True(low.IsCompletedSuccessfully);
                slots.Leave(TaskPriority.Low);
                Assert.True(high.IsCompletedSuccessfully);
            }

            Assert.True(passed <= PrioritySlots.PassLimit, $"the low task was passed over {passed} times");
        }

        Assert.Equal(PrioritySlots.PassLimit, passed);
    }

    [Fact]
    public async Task AWaitingTask_Canceled_LeavesTheLine()
    {
        var slots = new PrioritySlots(1, _time);
        Assert.True(slots.EnterAsync(TaskPriority.Normal, default).IsCompleted);
        using var cancel = new CancellationTokenSource();
        var high = slots.EnterAsync(TaskPriority.High, cancel.Token);
        var normal = slots.EnterAsync(TaskPriority.Normal, default);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => high);
        slots.Leave(TaskPriority.Normal);
        Assert.True(normal.IsCompletedSuccessfully);
        Assert.Equal((0, 0, 0), slots.Waiting);
    }
}
