using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Consumers;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Options;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace DistributedExecutor.Tests.Master.Consumers;

/// <summary>
/// The master's event consumers in MassTransit's test harness (in memory: a unit test of the consumer, not of the
/// broker): a finished task ends its job, and with --max-parallel the next held task is dispatched.
/// </summary>
public sealed class TaskFinishedConsumerTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distexec-consumer-").FullName;
    private readonly RecordingPublisher _publisher = new();
    private ServiceProvider _services = null!;
    private ITestHarness _harness = null!;

    public async Task InitializeAsync()
    {
        _services = new ServiceCollection()
            .AddSingleton(new MasterOptions { DatabasePath = Path.Combine(_dir, "master.db") })
            .AddSingleton(TimeProvider.System)
            .AddSingleton<JobSignals>()
            .AddSingleton<DistexecMetrics>()
            .AddSingleton<IJobStore, SqlJobStore>()
            .AddSingleton<ITaskPublisher>(_publisher)
            .AddSingleton<TaskDispatcher>()
            .AddMassTransitTestHarness(bus =>
            {
                bus.AddConsumer<TaskFinishedConsumer>();
                // "Consumed" waits until the bus has been idle this long: the default (about a second) is shorter than
                // a store write on a loaded machine, which made the wait end before the event was consumed.
                bus.SetTestTimeouts(testInactivityTimeout: TimeSpan.FromSeconds(30));
            })
            .BuildServiceProvider(true);
        _harness = _services.GetRequiredService<ITestHarness>();
        await _harness.Start();
    }

    public async Task DisposeAsync()
    {
        await _harness.Stop();
        await _services.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Consume_LastTaskFinishes_JobSucceeds()
    {
        var store = _services.GetRequiredService<IJobStore>();
        var (jobId, taskId) = (Guid.NewGuid(), Guid.NewGuid());
        store.CreateJob(jobId, "default", [(taskId, Spec())]);
        store.MarkPublished(jobId);

        await _harness.Bus.Publish(Finished(jobId, taskId, TaskOutcome.Succeeded));

        Assert.True(await _harness.Consumed.Any<TaskFinished>());
        Assert.True(await _harness.GetConsumerHarness<TaskFinishedConsumer>().Consumed.Any<TaskFinished>(m => m.Context.Message.TaskId == taskId));
        Assert.Equal(TaskState.Succeeded, store.GetJob(jobId, withTasks: false)!.State);
        Assert.Empty(_publisher.Published);
    }

    [Fact]
    public async Task Consume_WithMaxParallelOne_DispatchesTheHeldTaskOnce()
    {
        var store = _services.GetRequiredService<IJobStore>();
        var (jobId, first, second) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        store.CreateJob(jobId, "default", [(first, Spec()), (second, Spec())], maxParallel: 1);
        store.MarkPublished(jobId);

        await _harness.Bus.Publish(Finished(jobId, first, TaskOutcome.Failed));

        Assert.True(await _harness.GetConsumerHarness<TaskFinishedConsumer>().Consumed.Any<TaskFinished>(m => m.Context.Message.TaskId == first));
        var dispatched = Assert.Single(_publisher.Published);
        Assert.Equal(second, dispatched.TaskId);
        // The job goes on: its second task has only now been sent.
        Assert.False(TaskRules.IsTerminal(store.GetJob(jobId, withTasks: false)!.State));
    }

    private static TaskSpec Spec() => new() { Command = new CommandSpec { Program = "true" } };

    private static TaskFinished Finished(Guid jobId, Guid taskId, TaskOutcome outcome) =>
        new(jobId, taskId, Guid.NewGuid(), "w", outcome, outcome == TaskOutcome.Succeeded ? 0 : 1, null, null, false, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);

    private sealed class RecordingPublisher : ITaskPublisher
    {
        public System.Collections.Concurrent.ConcurrentQueue<ExecuteTask> Published { get; } = [];

        public Task PublishAsync(string pool, IReadOnlyList<ExecuteTask> tasks, CancellationToken cancellationToken)
        {
            foreach (var task in tasks)
            {
                Published.Enqueue(task);
            }

            return Task.CompletedTask;
        }
    }
}
