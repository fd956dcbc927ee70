using DistributedExecutor.Contracts.V1;
using static DistributedExecutor.Master.Jobs.Store.StoreSql;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// Applies <see cref="JobLimits"/> to a job after one of its tasks ended, inside the writer's transaction:
/// skips the tasks not yet started once --max-errors is reached, else releases held tasks up to --max-parallel.
/// </summary>
internal sealed class HeldTasks(StoreWriter writer)
{
    /// <summary>The released tasks (unheld, not yet published: the caller publishes them).</summary>
    public IReadOnlyList<PendingTask> Apply(Guid jobId)
    {
        var limits = writer.Rows("SELECT max_parallel, max_errors, pool FROM jobs WHERE id = $job",
            reader => (MaxParallel: reader.GetInt64(0), MaxErrors: reader.GetInt64(1), Pool: reader.GetString(2)), ("$job", Id(jobId)));
        if (limits.Count == 0)
        {
            return [];
        }

        var (maxParallel, maxErrors, pool) = limits[0];
        if (maxErrors > 0)
        {
            var failed = (long)writer.Scalar($"SELECT COUNT(*) FROM tasks WHERE job_id = $job AND state IN ({Sql.Errors})", ("$job", Id(jobId)))!;
            if (JobLimits.SkipsTheRest(maxErrors, failed))
            {
                var skipped = writer.Execute($"""
                    UPDATE tasks SET state = {Sql.Canceled}, held = 0, finished_at = $now, error = $reason
                    WHERE job_id = $job AND state = {Sql.Queued}
                    """, ("$now", writer.Now()), ("$reason", JobLimits.SkippedReason(failed, maxErrors)), ("$job", Id(jobId)));
                if (skipped > 0)
                {
                    writer.Execute("DELETE FROM retries WHERE job_id = $job", ("$job", Id(jobId)));
                    writer.RefreshJobState(jobId);
                }

                return [];
            }
        }

        if (maxParallel <= 0)
        {
            return [];
        }

        var busy = (long)writer.Scalar($"SELECT COUNT(*) FROM tasks WHERE job_id = $job AND held = 0 AND state IN ({Sql.Unfinished})", ("$job", Id(jobId)))!;
        var free = JobLimits.Releasable(maxParallel, busy);
        if (free == 0)
        {
            return [];
        }

        var released = writer.Rows(
            $"SELECT id, spec, dispatch FROM tasks WHERE job_id = $job AND held = 1 AND state = {Sql.Queued} ORDER BY idx LIMIT $free",
            reader => new PendingTask(jobId, Guid.Parse(reader.GetString(0)), TaskSpec.Parser.ParseFrom((byte[])reader[1]), pool, reader.GetInt32(2)),
            ("$job", Id(jobId)), ("$free", free));
        foreach (var task in released)
        {
            // Unheld but unpublished: if the master stops before publishing, start-up recovery publishes it.
            writer.Execute("UPDATE tasks SET held = 0 WHERE id = $task", ("$task", Id(task.TaskId)));
        }

        return released;
    }
}
