using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using static DistributedExecutor.Master.Jobs.Store.StoreSql;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// Retries waiting for their time, kept in the store (a master restart neither loses one nor runs it early):
/// whether an ended attempt earns one, putting the task back in the queue with its due time, the retries that
/// are due, and leaving the schedule once the broker confirmed the retry's message.
/// </summary>
internal sealed class RetrySchedule(StoreWriter writer)
{
    private readonly Lock _nextLock = new();

    /// <summary>
    /// The earliest due time in the schedule as this master knows it (ms since the epoch; long.MinValue: not known,
    /// read the store). Lowered after the commit of every retry this master schedules, so the scheduler's ticks
    /// before then read nothing: an idle master no longer asks the store ten times a second.
    /// </summary>
    private long _nextDue = long.MinValue;

    /// <summary>Bumped with every lowering of <see cref="_nextDue"/>: a reading of the store that raced one is not kept.</summary>
    private long _lowered;

    /// <summary>When the task's retry policy wants another run after this outcome: the time it is due; else null.</summary>
    public DateTimeOffset? Due(TaskFinished message, TaskState next, TaskRow task)
    {
        if (next is not (TaskState.Failed or TaskState.TimedOut) || message.Outcome == TaskOutcome.Abandoned)
        {
            return null;
        }

        var spec = TaskSpec.Parser.ParseFrom((byte[])writer.Scalar("SELECT spec FROM tasks WHERE id = @id", ("@id", Id(message.TaskId)))!);
        if (spec.Retry is not { } policy || task.Dispatch >= policy.MaxAttempts || !JobRules.Retries(policy, next, message.HttpStatus))
        {
            return null;
        }

        return writer.UtcNow() + JobRules.Backoff(policy, task.Dispatch, Random.Shared.NextDouble());
    }

    /// <summary>The task goes back to Queued for its next dispatch, keeping this run's result until then.</summary>
    public void Schedule(TaskFinished message, TaskState next, TaskRow task, DateTimeOffset due)
    {
        var detail = message.Error is { Length: > 0 } e ? $" ({e})" : message.ExitCode is { } x ? $" (exit {x})" : "";
        writer.Execute($"""
            UPDATE tasks SET state = {Sql.Queued}, dispatch = dispatch + 1, next_cause = 'retry', published = 0,
                exit_code = @exit, signal = @signal, error = @error, http_status = @http, failure = @failure
            WHERE id = @task
            """,
            ("@failure", (int)message.Failure), ("@exit", message.ExitCode), ("@signal", message.Signal), ("@http", message.HttpStatus), ("@task", Id(message.TaskId)),
            ("@error", $"run {task.Dispatch} {next.ToString().ToLowerInvariant()}{detail}; retry at {due:HH:mm:ss.fff}Z"));
        writer.Execute("INSERT INTO retries(task_id, job_id, due_at, dispatch) VALUES(@task, @job, @due, @dispatch) ON CONFLICT(task_id) DO UPDATE SET job_id = excluded.job_id, due_at = excluded.due_at, dispatch = excluded.dispatch",
            ("@task", Id(message.TaskId)), ("@job", Id(message.JobId)), ("@due", due.ToUnixTimeMilliseconds()), ("@dispatch", task.Dispatch + 1));
        Scheduled(due.ToUnixTimeMilliseconds());
    }

    /// <summary>A row for <paramref name="dueAt"/> was written to the schedule: once committed, the scheduler looks at it by then.</summary>
    public void Scheduled(long dueAt) => writer.AfterCommit(() =>
    {
        lock (_nextLock)
        {
            _lowered++;
            _nextDue = Math.Min(_nextDue, dueAt);
        }
    });

    /// <summary>
    /// Retries due at <paramref name="now"/>, to publish; none without reading the store while the earliest known due
    /// time is later. With <paramref name="shared"/> (other masters write the schedule too) the store is always read.
    /// </summary>
    public IReadOnlyList<PendingTask> DueRetries(int limit, long now, bool shared, Func<long?> earliestInStore)
    {
        if (!shared && now < Volatile.Read(ref _nextDue))
        {
            return [];
        }

        long lowered;
        lock (_nextLock)
        {
            lowered = _lowered;
        }

        var earliest = earliestInStore() ?? long.MaxValue;
        if (earliest > now)
        {
            lock (_nextLock)
            {
                // A retry scheduled (and committed) while the store was read may be missing from what it said.
                _nextDue = _lowered == lowered ? earliest : Math.Min(_nextDue, earliest);
            }

            return [];
        }

        lock (_nextLock)
        {
            // Read again once these are published: the next due time is what the store then says.
            _nextDue = long.MinValue;
        }

        return DueRetries(limit);
    }

    /// <summary>Retries whose time has come, to publish (tasks canceled meanwhile are dropped from the schedule).</summary>
    private IReadOnlyList<PendingTask> DueRetries(int limit) => writer.Write(() =>
    {
        var rows = writer.Rows("""
            SELECT r.task_id, r.job_id, t.spec, j.pool, r.dispatch, t.state, j.cancel_requested, t.dispatch
            FROM retries r JOIN tasks t ON t.id = r.task_id JOIN jobs j ON j.id = r.job_id
            WHERE r.due_at <= @now ORDER BY r.due_at LIMIT @limit
            """,
            reader =>
            {
                // A retry whose task moved on (canceled, redispatched) is dropped; only current ones parse their spec.
                var current = reader.GetInt32(5) == (int)StoredState.Queued && reader.GetInt32(6) == 0 && reader.GetInt32(4) == reader.GetInt32(7);
                return (TaskId: reader.GetString(0), Task: current
                    ? new PendingTask(Guid.Parse(reader.GetString(1)), Guid.Parse(reader.GetString(0)),
                        TaskSpec.Parser.ParseFrom((byte[])reader[2]), reader.GetString(3), reader.GetInt32(4))
                    : null);
            },
            ("@now", writer.Now()), ("@limit", limit));
        foreach (var dropped in rows.Where(r => r.Task is null))
        {
            writer.Execute("DELETE FROM retries WHERE task_id = @task", ("@task", dropped.TaskId));
        }

        return (IReadOnlyList<PendingTask>)rows.Where(r => r.Task is not null).Select(r => r.Task!).ToList();
    });

    /// <summary>The broker confirmed a retry's message: it leaves the schedule.</summary>
    public void MarkPublished(Guid taskId, int dispatch) => writer.Write(() =>
    {
        writer.Execute("DELETE FROM retries WHERE task_id = @task AND dispatch = @dispatch", ("@task", Id(taskId)), ("@dispatch", dispatch));
        writer.Execute("UPDATE tasks SET published = 1 WHERE id = @task AND dispatch = @dispatch", ("@task", Id(taskId)), ("@dispatch", dispatch));
    });
}
