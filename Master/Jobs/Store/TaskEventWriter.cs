using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Hosting.Telemetry;
using System.Data.Common;
using static DistributedExecutor.Master.Jobs.Store.StoreSql;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// Applies what workers and the broker report — an attempt started, wrote output, ended; a worker was lost; the
/// broker gave a message up — each in one transaction, by the rules of <see cref="TaskRules"/>. Every handler is
/// idempotent: attempts are keyed by their id and output batches by (attempt, sequence, part), so a duplicate,
/// late or reordered event can add to an attempt's record but never reopens a finished task.
/// </summary>
internal sealed class TaskEventWriter(StoreWriter writer, RetrySchedule retries, HeldTasks held, JobSignals signals, DistexecMetrics? metrics)
{
    /// <summary>Applies TaskStarted. Returns true when the task must be stopped (its job was canceled, or it already ended).</summary>
    public async Task<bool> ApplyStartedAsync(TaskStarted message)
    {
        var stop = await writer.WriteGroupedAsync(() =>
        {
            if (writer.ReadTask(message.TaskId, message.AttemptId) is not var (task, attempt))
            {
                // A task this master does not know (deleted, or another store): tell the worker to drop it.
                return true;
            }

            var stop = task.CancelRequested || TaskRules.IsTerminal(task.State);
            if (attempt is { } recorded)
            {
                // Recorded already: a duplicate, or this TaskStarted came after its attempt's TaskFinished (the events
                // of one group commit are applied in any order), when the run is over and there is nothing to stop.
                return stop && !recorded.Finished;
            }

            if (RecordAttempt(task, message.JobId, message.TaskId, message.AttemptId, message.WorkerId, message.StartedAt, message.Dispatch, message.DeliveryCount))
            {
                return true;
            }

            if (TaskRules.OnStarted(task.State) is { } next)
            {
                writer.Execute("""
                    UPDATE tasks SET state = @state, current_attempt = @attempt, worker_id = @worker, next_cause = NULL,
                        started_at = COALESCE(started_at, @started)
                    WHERE id = @task
                    """,
                    ("@state", StoredStates.Column(next)), ("@attempt", Id(message.AttemptId)), ("@worker", message.WorkerId),
                    ("@started", message.StartedAt.ToUnixTimeMilliseconds()), ("@task", Id(message.TaskId)));
                writer.RefreshJobState(message.JobId);
            }

            return stop;
        }).ConfigureAwait(false);

        signals.Notify(message.JobId);
        return stop;
    }

    /// <summary>
    /// Records an attempt as its TaskStarted does (numbered after the task's others, with its cause and dispatch);
    /// true when it is stale: a run of an earlier dispatch (a retry has replaced it), or a second copy of this
    /// dispatch's message (published twice around a master crash; a redelivery has a delivery count above 1),
    /// recorded as a duplicate and stopped at once, so a retry never runs twice.
    /// </summary>
    /// <param name="end">How it ended, when the event recording it is its TaskFinished.</param>
    private bool RecordAttempt(TaskRow task, Guid jobId, Guid taskId, Guid attemptId, string workerId, DateTimeOffset startedAt, int dispatch, int deliveryCount,
        StoreWriter.AttemptEnd? end = null)
    {
        dispatch = Math.Max(1, dispatch);

        // The task's attempts so far (this one is numbered after them) and those of this dispatch, in one read.
        var (earlier, ofDispatch) = writer.Rows("SELECT COUNT(*), COALESCE(SUM(CASE WHEN dispatch = @dispatch THEN 1 ELSE 0 END), 0) FROM attempts WHERE task_id = @task",
            reader => (Long(reader.GetValue(0)), Long(reader.GetValue(1))), ("@task", Id(taskId)), ("@dispatch", dispatch))[0];
        var stale = dispatch < task.Dispatch || (deliveryCount <= 1 && ofDispatch > 0);
        var number = earlier + 1;
        var cause = stale ? "duplicate" : task.NextCause ?? (number == 1 ? "first" : "redelivery");
        writer.InsertAttempt(jobId, taskId, attemptId, workerId, startedAt, number, cause, dispatch, end);
        if (cause == "redelivery")
        {
            writer.AfterCommit(() => metrics?.Redeliveries.Add(1));
        }

        return stale;
    }

    /// <summary>
    /// Stores an output batch. With <paramref name="waitForAttempt"/>, throws <see cref="EventPendingException"/> (and
    /// stores nothing) while the attempt's TaskStarted or its previous batch is not applied yet: output is read by
    /// offset, so a batch stored before its attempt is the task's current one would become visible behind a
    /// follower's offset, and one stored before its predecessor would read out of order.
    /// </summary>
    public async Task ApplyOutputAsync(TaskOutput message, bool waitForAttempt = true)
    {
        await writer.WriteGroupedAsync(() =>
        {
            if (waitForAttempt && writer.ReadTask(message.TaskId, message.AttemptId) is var (_, attempt))
            {
                if (attempt is null)
                {
                    throw Pending($"attempt {message.AttemptId} not recorded yet", stored: 0);
                }

                // Batches are stored in their order: output is read by offset, live and in the record.
                if (message.Sequence > 0 && writer.Scalar("SELECT 1 FROM output WHERE attempt_id = @attempt AND seq = @previous LIMIT 1",
                    ("@attempt", Id(message.AttemptId)), ("@previous", message.Sequence - 1)) is null)
                {
                    // How far the attempt's output has come: the wait goes on while it grows (a long chain of batches
                    // coming back from the broker's retries after a full disk takes as long as it takes).
                    var stored = writer.Scalar("SELECT MAX(seq) + 1 FROM output WHERE attempt_id = @attempt", ("@attempt", Id(message.AttemptId)));
                    throw Pending($"output batch {message.Sequence - 1} of attempt {message.AttemptId} not stored yet", Long(stored));
                }
            }

            InsertOutput(message);
            return 0;
        }).ConfigureAwait(false);
        signals.Notify(message.JobId);
    }

    /// <summary>
    /// An event must wait for one it depends on. Its progress is what of that is stored (<paramref name="stored"/> output
    /// batches) plus the writes refused for a full disk (nothing could be stored meanwhile, so the wait goes on).
    /// </summary>
    private EventPendingException Pending(string what, long stored) => new(what, stored + writer.FullFailures);

    /// <summary>Uses up the task's next cause once this event has recorded its attempt (what its TaskStarted would have done).</summary>
    private void ClearCause(bool clear, Guid taskId)
    {
        if (clear)
        {
            writer.Execute("UPDATE tasks SET next_cause = NULL WHERE id = @task", ("@task", Id(taskId)));
        }
    }

    /// <summary>Stores an output batch once, however often it arrives (keyed by attempt, sequence and part).</summary>
    private void InsertOutput(TaskOutput message)
    {
        var insert = writer.Prepared("""
            INSERT INTO output(job_id, task_id, attempt_id, seq, part, stream, data, at)
            VALUES(@job, @task, @attempt, @seq, @part, @stream, @data, @at) ON CONFLICT DO NOTHING
            """,
            ("@job", Id(message.JobId)), ("@task", Id(message.TaskId)), ("@attempt", Id(message.AttemptId)), ("@seq", message.Sequence));
        var part = insert.Bind("@part", System.Data.DbType.Int64);
        var stream = insert.Bind("@stream", System.Data.DbType.Int64);
        var data = insert.Bind("@data", System.Data.DbType.Binary);
        var at = insert.Bind("@at", System.Data.DbType.Int64);
        for (var i = 0; i < message.Chunks.Count; i++)
        {
            part.Value = i;
            stream.Value = (int)message.Chunks[i].Stream;
            data.Value = message.Chunks[i].Data;
            at.Value = message.Chunks[i].At is { } when ? when.ToUnixTimeMilliseconds() : DBNull.Value;
            if (insert.ExecuteNonQuery() > 0 && metrics is not null)
            {
                var (length, kind) = (message.Chunks[i].Data.Length, message.Chunks[i].Stream == OutputStreamKind.Stderr ? "stderr" : "stdout");
                writer.AfterCommit(() => metrics.OutputBytes.Add(length, new KeyValuePair<string, object?>("stream", kind)));
            }
        }
    }

    /// <summary>
    /// Applies TaskFinished; returns the held-back tasks of a --max-parallel job that may now be published. With
    /// <paramref name="waitForOutput"/>, throws <see cref="EventPendingException"/> (and changes nothing) while
    /// some of the attempt's earlier output batches are not stored yet, so a follower that stops at the final state
    /// has seen all of the output; without it (the batches never came), the attempt ends with what is there.
    /// </summary>
    public async Task<IReadOnlyList<PendingTask>> ApplyFinishedAsync(TaskFinished message, bool waitForOutput = true)
    {
        var released = await writer.WriteGroupedAsync<IReadOnlyList<PendingTask>>(() =>
        {
            if (writer.ReadTask(message.TaskId, message.AttemptId) is not var (task, attempt))
            {
                return [];
            }

            if (message.Output is { } output)
            {
                // The attempt's last output, carried by its end: stored with it, so a watcher sees both at once.
                InsertOutput(output);
            }

            // Nothing to count when the one batch the attempt produced is the one carried here (most short tasks).
            var carriedAll = message is { OutputBatches: 1, Output: { Sequence: 0 } carried } && carried.AttemptId == message.AttemptId;
            if (waitForOutput && message.OutputBatches > 0 && !carriedAll
                && (long)writer.Scalar("SELECT COUNT(DISTINCT seq) FROM output WHERE attempt_id = @attempt", ("@attempt", Id(message.AttemptId)))! is var stored
                && stored < message.OutputBatches)
            {
                throw Pending($"output of attempt {message.AttemptId} not all stored yet ({stored} of {message.OutputBatches} batches)", stored);
            }

            // An attempt the master marked lost (no heartbeats) may still report: its worker was alive and
            // acknowledged the message, so this report is the only result the task will ever get.
            var stale = false;

            // Set when this event records the attempt: the task's next cause is then used up (its TaskStarted clears it).
            var clearCause = false;
            var end = new StoreWriter.AttemptEnd(TaskRules.ToState(message.Outcome), message.FinishedAt, message.ExitCode, message.Signal, message.Error,
                message.HttpStatus, (int)message.Failure);
            switch (attempt)
            {
                case { Finished: true, Lost: false }:
                    // Already applied: a duplicate.
                    return [];
                case null:
                    // TaskFinished overtook its TaskStarted (applied in the same group commit, or that was lost; a short
                    // task sends none): the attempt is recorded as its TaskStarted would have recorded it, ended as this
                    // says, in one insert. A stale run decides nothing.
                    stale = RecordAttempt(task, message.JobId, message.TaskId, message.AttemptId, message.WorkerId, message.StartedAt, message.Dispatch, message.DeliveryCount, end);
                    clearCause = !stale;
                    break;
                default:
                    writer.Execute("""
                        UPDATE attempts SET state = @state, finished_at = @finished, exit_code = @exit, signal = @signal, error = @error,
                            http_status = @http, failure = @failure
                        WHERE id = @id
                        """,
                        ("@state", StoredStates.Column(end.State)), ("@finished", end.FinishedAt.ToUnixTimeMilliseconds()),
                        ("@exit", end.ExitCode), ("@signal", end.Signal), ("@error", end.Error), ("@http", end.HttpStatus),
                        ("@failure", end.Failure), ("@id", Id(message.AttemptId)));
                    break;
            }

            // Recorded by this event and not stale, it is the current dispatch's run, as its TaskStarted would have made
            // it: the task's current attempt may still name a run of an earlier dispatch (one that sent its TaskStarted).
            var isLatest = clearCause || (!stale && (task.CurrentAttempt is null || task.CurrentAttempt == Id(message.AttemptId)));
            if (TaskRules.OnFinished(task.State, isLatest, message.Outcome, task.CancelRequested) is not { } next)
            {
                ClearCause(clearCause, message.TaskId);
                return [];
            }

            if (TaskRules.IsTerminal(next) && isLatest && !task.CancelRequested && retries.Due(message, next, task) is { } due)
            {
                // The task's retry policy asks for another run; the retry scheduler publishes it when due (and sets its cause).
                ClearCause(clearCause, message.TaskId);
                retries.Schedule(message, next, task, due);
            }
            else if (TaskRules.IsTerminal(next))
            {
                writer.AfterCommit(() => metrics?.RecordFinished(next.ToString(), message.FinishedAt - message.StartedAt));
                writer.Execute("""
                    UPDATE tasks SET state = @state, final_attempt = @attempt, current_attempt = @attempt, exit_code = @exit,
                        signal = @signal, error = @error, worker_id = @worker, truncated = @truncated, finished_at = @finished,
                        started_at = COALESCE(started_at, @started), http_status = @http, failure = @failure,
                        next_cause = CASE WHEN @clear = 1 THEN NULL ELSE next_cause END
                    WHERE id = @task
                    """,
                    ("@clear", clearCause ? 1 : 0), ("@failure", next == TaskState.Failed ? (int)message.Failure : 0), ("@state", StoredStates.Column(next)), ("@attempt", Id(message.AttemptId)),
                    ("@exit", message.ExitCode), ("@signal", message.Signal),
                    ("@error", next == TaskState.Canceled && message.Outcome == TaskOutcome.Abandoned ? "canceled" : message.Error),
                    ("@worker", message.WorkerId), ("@truncated", message.Truncated ? 1 : 0),
                    ("@finished", message.FinishedAt.ToUnixTimeMilliseconds()), ("@started", message.StartedAt.ToUnixTimeMilliseconds()),
                    ("@http", message.HttpStatus), ("@task", Id(message.TaskId)));
            }
            else
            {
                writer.Execute("UPDATE tasks SET state = @state, next_cause = CASE WHEN @clear = 1 THEN NULL ELSE next_cause END WHERE id = @task",
                    ("@state", StoredStates.Column(next)), ("@clear", clearCause ? 1 : 0), ("@task", Id(message.TaskId)));
            }

            return held.Apply(message.JobId);
        }).ConfigureAwait(false);

        signals.Notify(message.JobId);
        return released;
    }

    /// <summary>
    /// Marks the unfinished attempts of a lost worker as lost. Their tasks go back to Queued (the broker
    /// redelivers their messages), or to Canceled when their job was canceled. Returns the affected jobs.
    /// </summary>
    public IReadOnlyList<Guid> MarkWorkerLost(string workerId, string reason)
    {
        var jobs = writer.Write(() =>
        {
            var lost = writer.Rows($"SELECT id, task_id, job_id FROM attempts WHERE state = {Sql.Running} AND worker_id = @worker",
                reader => (Attempt: reader.GetString(0), Task: reader.GetString(1), Job: reader.GetString(2)), ("@worker", workerId));
            foreach (var (attempt, task, job) in lost)
            {
                writer.LoseAttempts("id = @id", reason, ("@id", attempt));
                var cancel = Long(writer.Scalar("SELECT cancel_requested FROM jobs WHERE id = @job", ("@job", job))) == 1;
                writer.Execute($"""
                    UPDATE tasks SET state = @state, error = @error, finished_at = CASE WHEN @state = {Sql.Canceled} THEN @now ELSE finished_at END
                    WHERE id = @task AND current_attempt = @attempt AND state = {Sql.Running}
                    """,
                    ("@state", cancel ? (int)StoredState.Canceled : (int)StoredState.Queued), ("@error", cancel ? "canceled" : null), ("@now", writer.Now()),
                    ("@task", task), ("@attempt", attempt));
                writer.RefreshJobState(job);
            }

            return lost.Select(l => Guid.Parse(l.Job)).ToList();
        });

        foreach (var job in jobs.Distinct())
        {
            signals.Notify(job);
        }

        return jobs;
    }

    /// <summary>
    /// A lost worker's fan-out tasks that it had not finished: they can run nowhere else, so they end Failed as
    /// lost (never silently missing). Returns the tasks --max-parallel jobs may now release.
    /// </summary>
    public IReadOnlyList<PendingTask> FailTasksOfLostWorker(string workerId)
    {
        var jobs = new List<Guid>();
        var released = writer.Write(() =>
        {
            var released = new List<PendingTask>();
            jobs.AddRange(writer.Rows($"SELECT DISTINCT job_id FROM tasks WHERE target_worker = @worker AND state IN ({Sql.Unfinished})",
                reader => Guid.Parse(reader.GetString(0)), ("@worker", workerId)));
            foreach (var job in jobs)
            {
                writer.LoseAttempts("job_id = @job AND worker_id = @worker", $"worker {workerId} lost", ("@job", Id(job)), ("@worker", workerId));
                writer.Execute($"""
                    UPDATE tasks SET state = {Sql.Failed}, held = 0, finished_at = @now, failure = {Sql.FailureLost},
                        error = 'lost: worker ' || @worker || ' was lost before it finished its copy'
                    WHERE job_id = @job AND target_worker = @worker AND state IN ({Sql.Unfinished})
                    """, ("@now", writer.Now()), ("@worker", workerId), ("@job", Id(job)));
                writer.Execute("DELETE FROM retries WHERE job_id = @job AND task_id IN (SELECT id FROM tasks WHERE target_worker = @worker)", ("@job", Id(job)), ("@worker", workerId));
                released.AddRange(held.Apply(job));
            }

            return released;
        });

        foreach (var job in jobs)
        {
            signals.Notify(job);
        }

        return released;
    }

    /// <summary>The broker gave up on a task's message: unless it already ended, the task fails with the reason.</summary>
    public IReadOnlyList<PendingTask> ApplyGaveUp(Guid jobId, Guid taskId, string reason)
    {
        var released = writer.Write(() =>
        {
            if (writer.ReadTask(taskId) is not { } task || TaskRules.IsTerminal(task.State))
            {
                return [];
            }

            writer.LoseAttempts("task_id = @task", "worker lost", ("@task", Id(taskId)));
            writer.Execute("UPDATE tasks SET state = @state, error = @reason, finished_at = @now, failure = @failure WHERE id = @task",
                ("@state", StoredStates.Column(task.CancelRequested ? TaskState.Canceled : TaskState.Failed)), ("@reason", reason), ("@now", writer.Now()),
                ("@failure", task.CancelRequested ? 0 : (int)Contracts.Messages.FailureKind.GaveUp), ("@task", Id(taskId)));
            return held.Apply(jobId);
        });

        signals.Notify(jobId);
        return released;
    }

    /// <summary>After the in-memory bus lost its queues: running attempts are lost and their tasks queued again.</summary>
    public void RequeueAllRunning(string reason) => writer.Write(() =>
    {
        writer.LoseAttempts("1 = 1", reason);
        writer.Execute($"UPDATE tasks SET state = {Sql.Queued} WHERE state = {Sql.Running}");
        writer.Execute($"UPDATE jobs SET state = {Sql.Queued} WHERE state = {Sql.Running} AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.state <> {Sql.Queued})");
    });
}

/// <summary>
/// An event arrived before one it depends on was applied (they are applied concurrently); tried again shortly.
/// <paramref name="progress"/> counts what of its dependencies is in (the attempt's stored output batches), plus the
/// writes the store refused for a full disk (<see cref="StoreWriter.FullFailures"/>: what it waits for could not be
/// stored meanwhile): while it grows, the event keeps waiting.
/// </summary>
internal sealed class EventPendingException(string message, long progress = 0) : Exception(message)
{
    public long Progress { get; } = progress;
}
