using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Executors;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Worker.Options;
using DistributedExecutor.Worker.Running;
using MassTransit;

namespace DistributedExecutor.Worker.Consumers;

/// <summary>
/// Runs one delivery of a task as a new attempt: TaskStarted (unless the task ends within <see cref="StartReport.Delay"/>),
/// output batches, TaskFinished, then the ack.
/// When the worker shuts down past its drain period the attempt is given back (Abandoned) and the message
/// returns to the queue for another worker.
/// </summary>
internal sealed partial class ExecuteTaskConsumer(
    ExecutorRegistry executors,
    RunningTasks running,
    WorkerNodes nodes,
    WorkerOptions options,
    TimeProvider time,
    DistexecMetrics metrics,
    ILogger<ExecuteTaskConsumer> logger) : IConsumer<ExecuteTask>
{
    /// <summary>How long a redelivered task waits before it starts again.</summary>
    public static readonly TimeSpan RedeliveryFence = TimeSpan.FromSeconds(1);

    public async Task Consume(ConsumeContext<ExecuteTask> context)
    {
        var task = context.Message;
        // A task of the pool's queues waits for a slot, highest priority first (a fan-out copy has its own slot).
        var pooled = task.TargetWorker is null;
        if (pooled)
        {
            await nodes.Slots.EnterAsync(task.Priority, context.CancellationToken).ConfigureAwait(false);
        }

        var node = nodes.Enter();
        try
        {
            await RunAsync(context, task, node).ConfigureAwait(false);
        }
        finally
        {
            node.Leave();
            if (pooled)
            {
                nodes.Slots.Leave(task.Priority);
            }
        }
    }

    private async Task RunAsync(ConsumeContext<ExecuteTask> context, ExecuteTask task, WorkerNode node)
    {
        var deliveryCount = DeliveryCount(context);
        using var span = Tracing.Source.StartActivity("execute task");
        span?.SetTag("distexec.job_id", task.JobId.ToString());
        span?.SetTag("distexec.task_id", task.TaskId.ToString());
        span?.SetTag("distexec.executor", task.Executor);
        span?.SetTag("distexec.delivery", deliveryCount);
        if (deliveryCount > 1)
        {
            if (metrics.WorkerSide)
            {
                metrics.Redeliveries.Add(1);
            }

            // A redelivery: the worker that held this message before may not yet have noticed it lost the broker.
            // It kills the task the moment it does; waiting a moment here keeps the two runs from overlapping.
            await Task.Delay(RedeliveryFence, time, context.CancellationToken).ConfigureAwait(false);
        }

        var attemptId = NewId.NextGuid();
        var startedAt = time.GetUtcNow();

        // The attempt's reports wait for the broker for as long as this message is held. Once the consume token
        // fired (the connection was lost, or a drain ran out) the message goes back to the queue whatever is
        // reported, so they get ReportGrace more and then give up: a report stuck on a bus that is recovering must
        // not keep this consumer's slot, or the messages the new channel prefetches would never run.
        using var reports = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var bounded = context.CancellationToken.Register(() => reports.CancelAfter(ReportGrace));

        // TaskStarted only for a task that runs a while or prints before it ends (see StartReport); once sent, output
        // and TaskFinished go out only after the broker confirmed it, so the master still sees them in order.
        using var started = new StartReport(
            () => context.Publish(new TaskStarted(task.JobId, task.TaskId, attemptId, node.Id, deliveryCount, startedAt, task.Dispatch), reports.Token), time);

        var attempt = new Attempt(task, attemptId, node, running, executors, metrics, options.OutputCapBytes, logger);
        var (result, truncated, lastOutput, outputBatches) = await attempt.RunAsync(started.SendAsync, batch => context.Publish(batch, reports.Token), context.CancellationToken)
            .ConfigureAwait(false);

        var finishedAt = time.GetUtcNow();
        if (metrics.WorkerSide)
        {
            metrics.RecordFinished(result.Outcome.ToString(), finishedAt - startedAt);
        }

        span?.SetTag("distexec.outcome", result.Outcome.ToString());
        await started.BeforeFinishedAsync().ConfigureAwait(false);
        await context.Publish(new TaskFinished(
            task.JobId, task.TaskId, attemptId, node.Id, result.Outcome, result.ExitCode, result.Signal, result.Error,
            truncated, startedAt, finishedAt, result.HttpStatus, result.Outcome == TaskOutcome.Failed ? result.Failure : FailureKind.None, lastOutput,
            task.Dispatch, deliveryCount, outputBatches), reports.Token).ConfigureAwait(false);
        if (result.Outcome == TaskOutcome.Succeeded)
        {
            LogSucceeded(task.JobId, task.TaskId, attemptId);
        }
        else
        {
            LogFinished(task.JobId, task.TaskId, attemptId, result.Outcome);
        }

        if (result.Outcome == TaskOutcome.Abandoned)
        {
            // An OperationCanceledException on the consume token tells MassTransit to return the message to
            // the queue instead of acknowledging it or moving it to the error queue.
            throw new OperationCanceledException("worker shutting down", context.CancellationToken);
        }
    }

    /// <summary>How long an attempt's reports still try after its message was given back (see RunAsync).</summary>
    public static readonly TimeSpan ReportGrace = TimeSpan.FromSeconds(10);

    private static int DeliveryCount(ConsumeContext context)
    {
        // Quorum queues count deliveries in x-delivery-count; classic queues only say "redelivered".
        if (context.ReceiveContext.TransportHeaders.TryGetHeader("x-delivery-count", out var value) && value is not null
            && long.TryParse(value.ToString(), out var count))
        {
            return (int)count + 1;
        }

        return context.ReceiveContext.Redelivered ? 2 : 1;
    }

    // Per task at debug level when all went well: at thousands of tasks a second, info lines cost real CPU.
    [LoggerMessage(Level = LogLevel.Debug, Message = "Task {TaskId} of job {JobId}, attempt {AttemptId}, ended Succeeded")]
    private partial void LogSucceeded(Guid jobId, Guid taskId, Guid attemptId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskId} of job {JobId}, attempt {AttemptId}, ended {Outcome}")]
    private partial void LogFinished(Guid jobId, Guid taskId, Guid attemptId, TaskOutcome outcome);
}
