using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Executors;
using DistributedExecutor.Hosting.Telemetry;

namespace DistributedExecutor.Worker.Running;

/// <summary>
/// One run of a task on this worker, from the decision to run it to its result: refused before it starts
/// (canceled job, executor missing, spec invalid or denied), or executed with its output batched out through
/// <paramref name="publish"/> once <paramref name="started"/> (sending TaskStarted) is confirmed, stopped gracefully on cancel and at
/// once when the broker link is lost, and given back (Abandoned) when this worker stops or loses the broker.
/// </summary>
internal sealed partial class Attempt(
    ExecuteTask task,
    Guid attemptId,
    WorkerNode node,
    RunningTasks running,
    ExecutorRegistry executors,
    DistexecMetrics metrics,
    long outputCapBytes,
    ILogger logger)
{
    /// <summary>
    /// The result, whether output was cut, the last output for TaskFinished to carry (null: none, or all published)
    /// and how many output batches the attempt produced, that one included.
    /// </summary>
    public async Task<(TaskRunResult Result, bool Truncated, TaskOutput? LastOutput, long OutputBatches)> RunAsync(Func<Task> started, Func<TaskOutput, Task> publish, CancellationToken consumeToken)
    {
        if (running.IsCanceled(task.JobId, task.TaskId))
        {
            return (new TaskRunResult(TaskOutcome.Canceled, null, null, "canceled before it started"), false, null, 0);
        }

        if (executors.Find(task.Executor) is not { } executor)
        {
            return (TaskRunResult.CouldNotStart($"executor \"{task.Executor}\" is not enabled on worker {node.Id}"), false, null, 0);
        }

        if (executor.Validate(task) is { IsValid: false } verdict)
        {
            return (verdict.Denied is { } denied
                ? TaskRunResult.Refused(denied)
                : new TaskRunResult(TaskOutcome.Failed, null, null, $"invalid spec: {string.Join("; ", verdict.Problems)}") { Failure = FailureKind.InvalidSpec }, false, null, 0);
        }

        LogStarting(task.JobId, task.TaskId, attemptId, node.Id);
        using var registration = running.Start(task.JobId, task.TaskId);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(consumeToken, registration.Canceled);

        // The consume token also fires when the broker connection drops; the broker then redelivers the message
        // at once, so the task must not live on here through a TERM grace period.
        using var connectionLost = consumeToken.Register(() =>
        {
            if (!node.Draining)
            {
                registration.KillNow();
            }
        });
        await using var output = new OutputBatcher(
            async batch =>
            {
                CountOutput(batch);

                await started().ConfigureAwait(false);
                await publish(batch).ConfigureAwait(false);
            },
            task.JobId, task.TaskId, attemptId, outputCapBytes);

        TaskRunResult result;
        try
        {
            result = await executor.ExecuteAsync(task, output, new TaskStop(stop.Token, registration.KilledNow)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogExecutorFailed(ex, task.JobId, task.TaskId);
            result = new TaskRunResult(TaskOutcome.Failed, null, null, $"executor error: {ex.Message}") { Failure = FailureKind.ExecutorError };
        }

        var lastOutput = await output.CompleteAsync(OutputBatcher.CarryBytes).ConfigureAwait(false);
        if (lastOutput is not null)
        {
            CountOutput(lastOutput);
        }

        // When the consume token fired (shutdown past the drain period, or the broker connection lost), the
        // message goes back to the queue whatever happened here, so unless the task did succeed this attempt
        // decides nothing: a process killed for it must not be reported as a failure of the task.
        if (!registration.Canceled.IsCancellationRequested
            && (result.Outcome == TaskOutcome.Canceled || (consumeToken.IsCancellationRequested && result.Outcome != TaskOutcome.Succeeded)))
        {
            result = result with
            {
                Outcome = TaskOutcome.Abandoned,
                Error = node.Draining
                    ? $"worker {node.Id} shut down; the task goes back to the queue"
                    : $"worker {node.Id} lost its broker connection; the task goes back to the queue",
            };
        }

        return (result, output.Truncated || result.Truncated, lastOutput, output.Batches);
    }

    private void CountOutput(TaskOutput batch)
    {
        foreach (var chunk in metrics.WorkerSide ? batch.Chunks : [])
        {
            metrics.OutputBytes.Add(chunk.Data.Length, new KeyValuePair<string, object?>("stream", chunk.Stream == OutputStreamKind.Stderr ? "stderr" : "stdout"));
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Starting task {TaskId} of job {JobId} as attempt {AttemptId} on {WorkerId}")]
    private partial void LogStarting(Guid jobId, Guid taskId, Guid attemptId, string workerId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Executor failed on task {TaskId} of job {JobId}")]
    private partial void LogExecutorFailed(Exception exception, Guid jobId, Guid taskId);
}
