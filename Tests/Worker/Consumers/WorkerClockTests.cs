using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Executors;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Tests.Fixtures;
using DistributedExecutor.Worker.Consumers;
using DistributedExecutor.Worker.Options;
using DistributedExecutor.Worker.Running;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace DistributedExecutor.Tests.Worker.Consumers;

/// <summary>
/// The worker's clocks on a fake one: a redelivered task waits the redelivery fence before it starts (a first
/// delivery does not), and WORKER_IDLE_EXIT_SECONDS stops the worker only after that long with nothing running.
/// </summary>
public sealed class WorkerClockTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private readonly TimerWatchingClock _time = new(DateTimeOffset.Parse("2026-11-27T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly WorkerNodes _nodes = new([new WorkerNode("w-clock", 2)]);
    private readonly Ran _ran = new();
    private ConsumerHarness _consumer = null!;

    private ITestHarness Harness => _consumer.Harness;

    private ServiceProvider Services => _consumer.Services;

    public async Task InitializeAsync() =>
        _consumer = await ConsumerHarness.StartAsync(_time, new ExecutorRegistry([_ran]), _nodes);

    public async Task DisposeAsync() => await _consumer.DisposeAsync();

    [Fact]
    public async Task Redelivery_WaitsTheFenceOnTheClock_ThenRuns()
    {
        var task = Task();
        var fence = _time.NextTimer(ExecuteTaskConsumer.RedeliveryFence);

        // The broker says this is the message's second delivery (a quorum queue's x-delivery-count of 1).
        await Harness.Bus.Publish(task, context => context.Headers.Set("x-delivery-count", 1));
        await fence.WaitAsync(Deadline);

        _time.Advance(ExecuteTaskConsumer.RedeliveryFence - TimeSpan.FromMilliseconds(1));
        Assert.Empty(_ran.Tasks);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(await Harness.Published.Any<TaskFinished>(m => m.Context.Message.TaskId == task.TaskId));
        var finished = Harness.Published.Select<TaskFinished>().Single(m => m.Context.Message.TaskId == task.TaskId).Context.Message;
        Assert.Equal(2, finished.DeliveryCount);
        Assert.Equal(_time.Start + ExecuteTaskConsumer.RedeliveryFence, finished.StartedAt);
        Assert.Equal([task.TaskId], _ran.Tasks);
    }

    [Fact]
    public async Task TaskStarted_OnlyForATaskStillRunningAfterTheDelay_BeforeItsFinished()
    {
        // A task that ends at once: its TaskFinished is the attempt's only report.
        var quick = Task();
        await Harness.Bus.Publish(quick);
        Assert.True(await Harness.Published.Any<TaskFinished>(m => m.Context.Message.TaskId == quick.TaskId));
        Assert.DoesNotContain(Harness.Published.Select<TaskStarted>(), m => m.Context.Message.TaskId == quick.TaskId);

        // A task still running after StartReport.Delay reports TaskStarted then, not before.
        var slow = Task();
        var release = _ran.Hold(slow.TaskId);
        var armed = _time.NextTimer(StartReport.Delay);
        await Harness.Bus.Publish(slow);
        await armed.WaitAsync(Deadline);
        await _ran.Running(slow.TaskId).WaitAsync(Deadline);
        _time.Advance(StartReport.Delay - TimeSpan.FromMilliseconds(1));
        Assert.DoesNotContain(Harness.Published.Select<TaskStarted>(), m => m.Context.Message.TaskId == slow.TaskId);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.Until(() => Harness.Published.Select<TaskStarted>().Any(m => m.Context.Message.TaskId == slow.TaskId), Deadline, "TaskStarted after the delay");

        release.SetResult();
        await Eventually.Until(() => Harness.Published.Select<TaskFinished>().Any(m => m.Context.Message.TaskId == slow.TaskId), Deadline, "TaskFinished once released");
        var started = Harness.Published.Select<TaskStarted>().Single(m => m.Context.Message.TaskId == slow.TaskId).Context.Message;
        var finished = Harness.Published.Select<TaskFinished>().Single(m => m.Context.Message.TaskId == slow.TaskId).Context.Message;
        Assert.Equal((started.AttemptId, started.StartedAt, started.DeliveryCount), (finished.AttemptId, finished.StartedAt, finished.DeliveryCount));
    }

    [Fact]
    public async Task FirstDelivery_RunsWithoutWaitingForTheClock()
    {
        var task = Task();

        await Harness.Bus.Publish(task);

        Assert.True(await Harness.Published.Any<TaskFinished>(m => m.Context.Message.TaskId == task.TaskId));
        Assert.Equal(_time.Start, _time.GetUtcNow());
    }

    [Fact]
    public async Task IdleExit_StopsOnlyAfterTheIdleSecondsWithNothingRunning()
    {
        var lifetime = new RecordingLifetime();
        var options = new WorkerOptions { IdleExitSeconds = 60 };
        using var service = new IdleExitService(options, _nodes, Services.GetRequiredService<IBusControl>(), lifetime, _time, NullLogger<IdleExitService>.Instance);
        var tick = IdleExitService.Tick;
        var firstTick = _time.NextTimer(tick);
        await service.StartAsync(CancellationToken.None);
        await firstTick.WaitAsync(Deadline);

        // 50 s idle, then a task runs for two minutes: the idle time starts again when it ends.
        await AdvanceAsync(TimeSpan.FromSeconds(50), tick);
        var node = _nodes.All[0];
        node.Enter();
        await AdvanceAsync(TimeSpan.FromMinutes(2), tick);
        Assert.False(lifetime.Stopped);
        node.Leave();
        await AdvanceAsync(TimeSpan.FromSeconds(55), tick);
        Assert.False(lifetime.Stopped);

        await Eventually.Until(() =>
        {
            _time.Advance(tick);
            return lifetime.Stopped;
        }, Deadline, "the idle worker to stop");
        Assert.InRange(_time.GetUtcNow() - _time.Start, TimeSpan.FromMinutes(3) + TimeSpan.FromSeconds(50), TimeSpan.FromMinutes(4));
        await service.StopAsync(CancellationToken.None);
    }

    /// <summary>Advances the clock a tick at a time, waiting each time until the service re-armed its timer.</summary>
    private async Task AdvanceAsync(TimeSpan total, TimeSpan tick)
    {
        for (var passed = TimeSpan.Zero; passed < total; passed += tick)
        {
            var next = _time.NextTimer(tick);
            _time.Advance(tick);
            await next.WaitAsync(Deadline);
        }
    }

    private static ExecuteTask Task() => new(Guid.NewGuid(), Guid.NewGuid(), Ran.ExecutorName, null, TimeSpan.FromSeconds(30));

    /// <summary>A fake clock that says when a timer of a given period is created or re-armed.</summary>
    private sealed class TimerWatchingClock(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private readonly Lock _lock = new();
        private readonly List<(TimeSpan Due, TaskCompletionSource Seen)> _waiting = [];

        public Task NextTimer(TimeSpan due)
        {
            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                _waiting.Add((due, seen));
            }

            return seen.Task;
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            return new WatchedTimer(timer, this, dueTime);
        }

        internal void Armed(TimeSpan due)
        {
            lock (_lock)
            {
                foreach (var waiting in _waiting.Where(w => w.Due == due).ToList())
                {
                    _waiting.Remove(waiting);
                    waiting.Seen.TrySetResult();
                }
            }
        }

        private sealed class WatchedTimer : ITimer
        {
            private readonly ITimer _inner;
            private readonly TimerWatchingClock _clock;

            public WatchedTimer(ITimer inner, TimerWatchingClock clock, TimeSpan due)
            {
                (_inner, _clock) = (inner, clock);
                if (due != Timeout.InfiniteTimeSpan)
                {
                    clock.Armed(due);
                }
            }

            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                var changed = _inner.Change(dueTime, period);
                if (dueTime != Timeout.InfiniteTimeSpan)
                {
                    _clock.Armed(dueTime);
                }

                return changed;
            }

            public void Dispose() => _inner.Dispose();

            public ValueTask DisposeAsync() => _inner.DisposeAsync();
        }
    }

    private sealed class Ran : ITaskExecutor
    {
        public const string ExecutorName = "clocked";

        private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, (TaskCompletionSource Running, TaskCompletionSource Release)> _held = [];

        public System.Collections.Concurrent.ConcurrentQueue<Guid> Tasks { get; } = [];

        public string Name => ExecutorName;

        /// <summary>The task, once it runs, waits for the returned source to be set.</summary>
        public TaskCompletionSource Hold(Guid taskId) =>
            _held.GetOrAdd(taskId, _ => (new(TaskCreationOptions.RunContinuationsAsynchronously), new(TaskCreationOptions.RunContinuationsAsynchronously))).Release;

        /// <summary>Completes when the held task has started running.</summary>
        public Task Running(Guid taskId) => _held[taskId].Running.Task;

        public SpecVerdict Validate(ExecuteTask task) => SpecVerdict.Ok;

        public async Task<TaskRunResult> ExecuteAsync(ExecuteTask task, IOutputSink output, TaskStop stop)
        {
            Tasks.Enqueue(task.TaskId);
            if (_held.TryGetValue(task.TaskId, out var held))
            {
                held.Running.SetResult();
                await held.Release.Task.ConfigureAwait(false);
            }

            return TaskRunResult.Succeeded();
        }
    }

    private sealed class RecordingLifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public bool Stopped { get; private set; }

        public void StopApplication() => Stopped = true;
    }
}
