using DistributedExecutor.Contracts.V1;
using static DistributedExecutor.Master.Jobs.Store.StoreSql;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// Applies <see cref="JobLimits"/> to a job after one of its tasks ended, inside the writer's transaction:
/// skips the tasks not yet started once --max-errors is reached, else releases held tasks up to --max-parallel,
/// and for a job with a concurrency key, the key's waiting tasks (of any job) up to the key's limit.
/// </summary>
internal sealed class HeldTasks(StoreWriter writer)
{
    /// <summary>
    /// After one of the job's tasks changed: refreshes the job's state and returns the released tasks (unheld, not yet
    /// published: the caller publishes them), the job's own and, once it ended, those of the jobs that ran after it.
    /// The refresh's read of the job brings its limits too, which spares reading it again.
    /// </summary>
    public IReadOnlyList<PendingTask> Apply(Guid jobId)
    {
        var job = writer.RefreshJobState(jobId);

        // The state is read again only if the limits changed it.
        var (released, stateChanged) = ApplyLimits(jobId, job);
        return [.. released, .. SettleDependents(Id(jobId), stateChanged ? null : job.State)];
    }

    /// <summary>
    /// When <paramref name="jobId"/> has ended, the jobs waiting for it (JobSpec.after) whose every dependency ended:
    /// released (their first tasks, within --max-parallel and their key's room), or, when one they needed to succeed
    /// did not, canceled with the reason, and so on down the chain. Returns the released tasks.
    /// </summary>
    public List<PendingTask> SettleDependents(string jobId, TaskState? known = null)
    {
        var released = new List<PendingTask>();
        var state = known is { } given ? [given] : writer.Rows("SELECT state FROM jobs WHERE id = @job", reader => StoredStates.FromColumn(reader.GetInt32(0)), ("@job", jobId));
        if (state.Count == 0 || !TaskRules.IsTerminal(state[0]))
        {
            return released;
        }

        var dependents = writer.Rows("SELECT j.id, j.after_condition, j.max_parallel, j.concurrency_key, j.pool FROM job_deps d JOIN jobs j ON j.id = d.job_id WHERE d.after_id = @job AND j.waiting = 1",
            reader => (Id: reader.GetString(0), Condition: (AfterCondition)reader.GetInt32(1), MaxParallel: reader.GetInt32(2), Key: reader.IsDBNull(3) ? null : reader.GetString(3), Pool: reader.GetString(4)),
            ("@job", jobId));
        foreach (var dependent in dependents)
        {
            var deps = writer.Rows("SELECT a.id, a.state FROM job_deps d JOIN jobs a ON a.id = d.after_id WHERE d.job_id = @job",
                reader => (Id: reader.GetString(0), State: StoredStates.FromColumn(reader.GetInt32(1))), ("@job", dependent.Id));
            var failed = deps.FirstOrDefault(d => TaskRules.IsTerminal(d.State) && d.State != TaskState.Succeeded);
            if (dependent.Condition != AfterCondition.Finished && failed.Id is not null)
            {
                writer.Execute("UPDATE jobs SET waiting = 0, cancel_requested = 1 WHERE id = @job", ("@job", dependent.Id));
                writer.Execute($"UPDATE tasks SET state = {Sql.Canceled}, held = 0, finished_at = @now, error = @reason WHERE job_id = @job AND state = {Sql.Queued}",
                    ("@now", writer.Now()), ("@job", dependent.Id), ("@reason", $"not started: job {failed.Id} it runs after ended {failed.State}"));
                writer.RefreshJobState(dependent.Id);
                released.AddRange(SettleDependents(dependent.Id));
                continue;
            }

            if (deps.All(d => TaskRules.IsTerminal(d.State)))
            {
                writer.Execute("UPDATE jobs SET waiting = 0 WHERE id = @job", ("@job", dependent.Id));
                var count = (long)writer.Scalar($"SELECT COUNT(*) FROM tasks WHERE job_id = @job AND held = 1 AND state = {Sql.Queued}", ("@job", dependent.Id))!;
                released.AddRange(Unhold(dependent.Id, dependent.Pool, JobLimits.MayGo(dependent.MaxParallel, busy: 0, KeyRoom(dependent.Key), count)));
            }
        }

        return released;
    }

    /// <summary>The tasks the job's limits release, and whether they changed the job's state (--max-errors skipped the rest).</summary>
    private (IReadOnlyList<PendingTask> Released, bool StateChanged) ApplyLimits(Guid jobId, StoreWriter.JobRow job)
    {
        var (maxParallel, maxErrors, pool, key) = (job.MaxParallel, job.MaxErrors, job.Pool, job.Key);
        if (maxErrors > 0)
        {
            var failed = (long)writer.Scalar($"SELECT COUNT(*) FROM tasks WHERE job_id = @job AND state IN ({Sql.Errors})", ("@job", Id(jobId)))!;
            if (JobLimits.SkipsTheRest(maxErrors, failed))
            {
                var skipped = writer.Execute($"""
                    UPDATE tasks SET state = {Sql.Canceled}, held = 0, finished_at = @now, error = @reason
                    WHERE job_id = @job AND state = {Sql.Queued}
                    """, ("@now", writer.Now()), ("@reason", JobLimits.SkippedReason(failed, maxErrors)), ("@job", Id(jobId)));
                if (skipped > 0)
                {
                    writer.Execute("DELETE FROM retries WHERE job_id = @job", ("@job", Id(jobId)));
                    writer.RefreshJobState(jobId);
                }

                return ([], skipped > 0);
            }
        }

        if (key is not null)
        {
            // A keyed job's end frees a slot of its key: the key's waiting tasks go, whichever job they belong to.
            return (ReleaseKey(key), false);
        }

        // Without --max-parallel or a key, none of its tasks is held for a limit (a job waiting for others is released by SettleDependents).
        if (maxParallel <= 0)
        {
            return ([], false);
        }

        var free = JobLimits.MayGo(maxParallel, Busy(Id(jobId)), keyRoom: null, held: long.MaxValue);
        return (free == 0 ? [] : Unhold(Id(jobId), pool, free), false);
    }

    /// <summary>
    /// The job's first <paramref name="count"/> held tasks (by index), unheld. Unheld but unpublished: the caller
    /// publishes them, and if the master stops first, start-up recovery does.
    /// </summary>
    private List<PendingTask> Unhold(string jobId, string pool, long count)
    {
        var tasks = writer.Rows(
            $"SELECT id, spec, dispatch FROM tasks WHERE job_id = @job AND held = 1 AND state = {Sql.Queued} ORDER BY idx LIMIT @count",
            reader => new PendingTask(Guid.Parse(jobId), Guid.Parse(reader.GetString(0)), TaskSpec.Parser.ParseFrom((byte[])reader[1]), pool, reader.GetInt32(2)),
            ("@job", jobId), ("@count", Math.Min(count, int.MaxValue)));
        foreach (var task in tasks)
        {
            writer.Execute("UPDATE tasks SET held = 0 WHERE id = @task", ("@task", Id(task.TaskId)));
        }

        return tasks;
    }

    /// <summary>The key's limit (null: none) and its tasks holding it now: unheld and not ended, of its jobs not ended.</summary>
    public (long? Max, long Holding) Key(string key)
    {
        var max = writer.Scalar("SELECT max FROM limits WHERE key = @key", ("@key", key)) is { } m ? Long(m) : (long?)null;
        var holding = (long)writer.Scalar($"""
            SELECT COUNT(*) FROM jobs j JOIN tasks t ON t.job_id = j.id
            WHERE j.concurrency_key = @key AND j.state IN ({Sql.Unfinished}) AND t.held = 0 AND t.state IN ({Sql.Unfinished})
            """, ("@key", key))!;
        return (max, holding);
    }

    /// <summary>The room the key has left (its limit less its tasks holding it), null when it has no limit or there is no key.</summary>
    public long? KeyRoom(string? key) => !string.IsNullOrEmpty(key) && Key(key) is { Max: { } max } now ? max - now.Holding : null;

    /// <summary>The job's tasks queued (released) or running.</summary>
    private long Busy(string jobId) =>
        (long)writer.Scalar($"SELECT COUNT(*) FROM tasks WHERE job_id = @job AND held = 0 AND state IN ({Sql.Unfinished})", ("@job", jobId))!;

    /// <summary>
    /// Releases the key's waiting tasks while it has room, oldest job first, each job within its own --max-parallel
    /// (jobs for later wait for their time). Unheld but unpublished: the caller publishes them.
    /// </summary>
    public IReadOnlyList<PendingTask> ReleaseKey(string key)
    {
        var (max, holding) = Key(key);
        var free = max is { } limit ? limit - holding : long.MaxValue;
        var released = new List<PendingTask>();
        var jobs = writer.Rows($"""
            SELECT id, pool, max_parallel FROM jobs
            WHERE concurrency_key = @key AND state IN ({Sql.Unfinished}) AND cancel_requested = 0 AND (not_before IS NULL OR not_before <= @now)
              AND EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.held = 1 AND t.state = {Sql.Queued})
            ORDER BY seq
            """,
            reader => (Id: reader.GetString(0), Pool: reader.GetString(1), MaxParallel: reader.GetInt64(2)), ("@key", key), ("@now", writer.Now()));
        foreach (var job in jobs)
        {
            if (free <= 0)
            {
                break;
            }

            var busy = job.MaxParallel > 0 ? Busy(job.Id) : 0;
            var tasks = Unhold(job.Id, job.Pool, JobLimits.MayGo(job.MaxParallel, busy, free, held: long.MaxValue));
            released.AddRange(tasks);
            free -= tasks.Count;
        }

        return released;
    }
}
