using System.Text;
using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Executors;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Worker.Consumers;
using DistributedExecutor.Worker.Options;
using DistributedExecutor.Worker.Running;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace DistributedExecutor.Tests.Worker.Consumers;

/// <summary>
/// The worker's consumer in MassTransit's test harness with a scripted executor (a unit test of the consumer, not
/// of the broker): an attempt reports started, its output and how it finished, in that order; a canceled job's
/// task never reaches the executor.
/// </summary>
public sealed class ExecuteTaskConsumerTests : IAsyncLifetime
{
    private readonly ScriptedExecutor _executor = new();
    private ConsumerHarness _consumer = null!;

    private ITestHarness Harness => _consumer.Harness;

    private ServiceProvider Services => _consumer.Services;

    public async Task InitializeAsync() =>
        _consumer = await ConsumerHarness.StartAsync(TimeProvider.System, new ExecutorRegistry([_executor]), new WorkerNodes([new WorkerNode("w-test", 2)]));

    public async Task DisposeAsync() => await _consumer.DisposeAsync();

    [Fact]
    public async Task Consume_RunsTheExecutor_ReportsStartedOutputFinishedForOneAttempt()
    {
        var task = Task();

        await Harness.Bus.Publish(task);

        Assert.True(await Harness.Published.Any<TaskFinished>(m => m.Context.Message.TaskId == task.TaskId));
        var started = Harness.Published.Select<TaskStarted>().SingleOrDefault(m => m.Context.Message.TaskId == task.TaskId)?.Context.Message;
        var output = Harness.Published.Select<TaskOutput>().Where(m => m.Context.Message.TaskId == task.TaskId).Select(m => m.Context.Message).ToList();
        var finished = Harness.Published.Select<TaskFinished>().Single(m => m.Context.Message.TaskId == task.TaskId).Context.Message;

        // TaskFinished alone describes the attempt (a short task sends no TaskStarted; WorkerClockTests pins when it
        // does); an output batch sent on its own always has its TaskStarted before it.
        Assert.Equal(("w-test", 1), (finished.WorkerId, finished.DeliveryCount));
        Assert.True(output.Count == 0 || started is not null, "an output batch went out without its TaskStarted");
        Assert.True(started is null || (started.AttemptId, started.WorkerId, started.DeliveryCount) == (finished.AttemptId, "w-test", 1), "TaskStarted describes another attempt");
        // A short task's output rides on its TaskFinished (one message less) unless the batcher's 50 ms flush came
        // first on a busy machine; either way it arrives exactly once, in numbered batches of this attempt.
        var batches = output.Concat(finished.Output is { } last ? [last] : []).OrderBy(b => b.Sequence).ToList();
        Assert.Equal("scripted output\n", string.Concat(batches.SelectMany(o => o.Chunks).Select(c => Encoding.UTF8.GetString(c.Data))));
        Assert.Equal(Enumerable.Range(0, batches.Count).Select(i => (long)i), batches.Select(b => b.Sequence));
        Assert.All(batches, b => Assert.Equal(finished.AttemptId, b.AttemptId));
        Assert.Equal((TaskOutcome.Succeeded, 0, FailureKind.None), (finished.Outcome, finished.ExitCode, finished.Failure));
    }

    [Fact]
    public async Task Consume_TaskOfACanceledJob_NeverRunsAndReportsCanceled()
    {
        var task = Task();
        Services.GetRequiredService<RunningTasks>().Cancel(task.JobId, null);

        await Harness.Bus.Publish(task);

        Assert.True(await Harness.Published.Any<TaskFinished>(m => m.Context.Message.TaskId == task.TaskId));
        var finished = Harness.Published.Select<TaskFinished>().Single(m => m.Context.Message.TaskId == task.TaskId).Context.Message;
        Assert.Equal(TaskOutcome.Canceled, finished.Outcome);
        Assert.DoesNotContain(task.TaskId, _executor.Ran);
    }

    [Fact]
    public async Task Consume_OutputBeyondWhatTheEndCarries_PublishedAsTaskOutputInOrder()
    {
        var task = Task() with { Parameters = new Dictionary<string, string> { ["bytes"] = (OutputBatcher.CarryBytes * 3).ToString(System.Globalization.CultureInfo.InvariantCulture) } };

        await Harness.Bus.Publish(task);

        Assert.True(await Harness.Published.Any<TaskFinished>(m => m.Context.Message.TaskId == task.TaskId));
        var finished = Harness.Published.Select<TaskFinished>().Single(m => m.Context.Message.TaskId == task.TaskId).Context.Message;
        var batches = Harness.Published.Select<TaskOutput>().Where(m => m.Context.Message.TaskId == task.TaskId).Select(m => m.Context.Message)
            .Concat(finished.Output is { } last ? [last] : []).OrderBy(b => b.Sequence).ToList();
        Assert.Contains(Harness.Published.Select<TaskOutput>(), m => m.Context.Message.TaskId == task.TaskId);
        Assert.Equal(Enumerable.Range(0, batches.Count).Select(i => (long)i), batches.Select(b => b.Sequence));
        Assert.Equal(OutputBatcher.CarryBytes * 3, batches.SelectMany(b => b.Chunks).Sum(c => c.Data.Length));
    }

    private static ExecuteTask Task() =>
        new(Guid.NewGuid(), Guid.NewGuid(), ScriptedExecutor.ExecutorName, null, TimeSpan.FromSeconds(30));

    private sealed class ScriptedExecutor : ITaskExecutor
    {
        public const string ExecutorName = "scripted";

        public System.Collections.Concurrent.ConcurrentBag<Guid> Ran { get; } = [];

        public string Name => ExecutorName;

        public SpecVerdict Validate(ExecuteTask task) => SpecVerdict.Ok;

        public async Task<TaskRunResult> ExecuteAsync(ExecuteTask task, IOutputSink output, TaskStop stop)
        {
            Ran.Add(task.TaskId);
            if (task.Parameters?.GetValueOrDefault("bytes") is { } bytes)
            {
                await output.WriteAsync(OutputStreamKind.Stdout, new byte[int.Parse(bytes, System.Globalization.CultureInfo.InvariantCulture)]);
                return TaskRunResult.Succeeded();
            }

            await output.WriteAsync(OutputStreamKind.Stdout, "scripted output\n"u8.ToArray());
            return TaskRunResult.Succeeded();
        }
    }
}
