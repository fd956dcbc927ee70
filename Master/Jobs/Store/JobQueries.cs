using DistributedExecutor.Contracts.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using System.Data.Common;
using static DistributedExecutor.Master.Jobs.Store.StoreSql;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>A page of a job's tasks by index: skip <paramref name="Offset"/> of those in <paramref name="State"/> (all when null), take <paramref name="Limit"/> (0: all).</summary>
internal sealed record TaskPage(int Offset, int Limit, TaskState? State);

/// <summary>
/// The read model: jobs, their tasks and attempts, and output as the API shows them. Each query opens a
/// connection of its own (reads never wait for the writer in WAL mode).
/// </summary>
internal sealed class JobQueries(StoreBackend backend)
{
    public IReadOnlySet<Guid> Unpublished(IReadOnlyList<Guid> taskIds)
    {
        // One look-up by key per task of the window, not a read of every task of its job at each window.
        using var connection = backend.Open();
        using var query = Command(connection, $"SELECT 1 FROM tasks WHERE id = @task AND state = {Sql.Queued} AND published = 0 AND held = 0", []);
        var task = query.Bind("@task", System.Data.DbType.String);
        var ids = new HashSet<Guid>();
        foreach (var id in taskIds)
        {
            task.Value = Id(id);
            if (query.ExecuteScalar() is not null)
            {
                ids.Add(id);
            }
        }

        return ids;
    }

    public TaskCounts TaskCounts(Guid jobId)
    {
        using var connection = backend.Open();
        using var query = connection.CreateCommand();
        query.CommandText = "SELECT state, COUNT(*), SUM(held) FROM tasks WHERE job_id = @job GROUP BY state";
        query.Bind("@job", Id(jobId));
        using var reader = query.ExecuteReader();
        var counts = new TaskCounts();
        while (reader.Read())
        {
            var n = reader.GetInt32(1);
            switch (StoredStates.FromColumn(reader.GetInt32(0)))
            {
                case TaskState.Queued:
                    counts.Queued += n;
                    counts.Waiting += reader.GetInt32(2);
                    break;
                case TaskState.Running:
                    counts.Running += n;
                    break;
                case TaskState.Succeeded:
                    counts.Succeeded += n;
                    break;
                case TaskState.Failed:
                    counts.Failed += n;
                    break;
                case TaskState.TimedOut:
                    counts.TimedOut += n;
                    break;
                case TaskState.Canceled:
                    counts.Canceled += n;
                    break;
            }
        }

        return counts;
    }

    public IReadOnlyList<Guid> JobIdsStartingWith(string prefix, int limit)
    {
        using var connection = backend.Open();
        using var query = connection.CreateCommand();
        // A range on the key (every id character sorts below 'z'), so the primary key's index answers it.
        query.CommandText = "SELECT id FROM jobs WHERE id >= @prefix AND id < @prefix || 'z' ORDER BY id LIMIT @limit";
        query.Bind("@prefix", prefix);
        query.Bind("@limit", limit);
        using var reader = query.ExecuteReader();
        var ids = new List<Guid>();
        while (reader.Read())
        {
            ids.Add(Guid.Parse(reader.GetString(0)));
        }

        return ids;
    }

    public Job? GetJob(Guid jobId, bool withTasks, TaskPage? page = null)
    {
        using var connection = backend.Open();
        return GetJob(Statements.On(connection), jobId, withTasks ? _ => true : _ => false, page);
    }

    /// <summary>
    /// What a watcher needs at a wake-up, on <paramref name="connection"/> while nothing writes: the job (with its tasks
    /// once it has ended) and its output after <paramref name="afterOffset"/>. Null when there is no such job.
    /// </summary>
    public static (Job Job, IReadOnlyList<OutputChunk> Chunks)? ReadProgress(Statements statements, Guid jobId, long afterOffset, int limit) =>
        GetJob(statements, jobId, state => TaskRules.IsTerminal(state)) is { } job
            ? (job, ReadOutput(statements, jobId, afterOffset, limit))
            : null;

    private static Job? GetJob(Statements statements, Guid jobId, Func<TaskState, bool> withTasks, TaskPage? page = null)
    {
        Job job;
        using (var statement = statements.Command("SELECT id, pool, state, task_count, created_at, finished_at, labels, idempotency_key, max_parallel, max_errors, seq, submitted_by, canceled_by, command, not_before, concurrency_key, waiting FROM jobs WHERE id = @id AND accepted = 1"))
        {
            // Read and closed before the next query: PostgreSQL runs one query at a time on a connection.
            var query = statement.Query;
            query.Bind("@id", Id(jobId));
            using var reader = query.ExecuteReader();
            if (!reader.Read())
            {
                return null;
            }

            job = ReadJob(reader);
        }

        // The full record (tasks, the jobs it runs after) only when asked for: not on a watcher's wake-up, which
        // runs on the writer's connection while writes wait, nor on a counts-only poll.
        if (withTasks(job.State))
        {
            LoadTasks(statements, job, page);
            using var deps = statements.Command("SELECT after_id FROM job_deps WHERE job_id = @job ORDER BY after_id");
            deps.Query.Bind("@job", job.Id);
            using var after = deps.Query.ExecuteReader();
            while (after.Read())
            {
                job.After.Add(after.GetString(0));
            }
        }

        return job;
    }

    public (IReadOnlyList<Job> Jobs, string NextPageToken) ListJobs(TaskState state, string? pool, int pageSize, long? beforeSeq, IReadOnlyDictionary<string, string>? labels = null, string? submittedBy = null, string? search = null)
    {
        using var connection = backend.Open();
        using var query = connection.CreateCommand();
        var where = new List<string> { "accepted = 1" };
        if (state != TaskState.Unspecified)
        {
            // Scheduled is Queued before not_before; Queued is the rest of Queued.
            where.Add(state switch
            {
                TaskState.Scheduled => "state = @state AND not_before > @now",
                TaskState.Queued => "state = @state AND (not_before IS NULL OR not_before <= @now) AND waiting = 0",
                TaskState.Waiting => "state = @state AND waiting = 1",
                _ => "state = @state",
            });
            query.Bind("@state", StoredStates.Column(state is TaskState.Scheduled or TaskState.Waiting ? TaskState.Queued : state));
            query.Bind("@now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        }

        if (!string.IsNullOrEmpty(pool))
        {
            where.Add("pool = @pool");
            query.Bind("@pool", pool);
        }

        var n = 0;
        foreach (var (key, value) in labels ?? new Dictionary<string, string>())
        {
            where.Add($"EXISTS (SELECT 1 FROM job_labels l WHERE l.job_id = jobs.id AND l.key = @k{n} AND l.value = @v{n})");
            query.Bind($"@k{n}", key);
            query.Bind($"@v{n}", value);
            n++;
        }

        if (!string.IsNullOrEmpty(search))
        {
            // A job whose command contains the text, or with a task of that item.
            where.Add("(" + backend.Contains("lower(command)", "lower(@search)") + " OR EXISTS (SELECT 1 FROM tasks i WHERE i.item = @search AND i.job_id = jobs.id))");
            query.Bind("@search", search);
        }

        if (!string.IsNullOrEmpty(submittedBy))
        {
            where.Add("submitted_by = @by");
            query.Bind("@by", submittedBy);
        }

        if (beforeSeq is { } before)
        {
            where.Add("seq < @before");
            query.Bind("@before", before);
        }

        query.CommandText = "SELECT id, pool, state, task_count, created_at, finished_at, labels, idempotency_key, max_parallel, max_errors, seq, submitted_by, canceled_by, command, not_before, concurrency_key, waiting FROM jobs"
            + " WHERE " + string.Join(" AND ", where)
            + " ORDER BY seq DESC LIMIT @limit";
        query.Bind("@limit", pageSize + 1);
        using var reader = query.ExecuteReader();
        var jobs = new List<Job>();
        long lastSeq = 0;
        var more = false;
        while (reader.Read())
        {
            if (jobs.Count == pageSize)
            {
                more = true;
                break;
            }

            jobs.Add(ReadJob(reader));
            lastSeq = reader.GetInt64(10);
        }

        return (jobs, more ? lastSeq.ToString(System.Globalization.CultureInfo.InvariantCulture) : "");
    }

    /// <summary>
    /// Output after <paramref name="afterOffset"/>, in order. Only the attempt that counts for each task is shown:
    /// the final one once the task ended, else the current one, so a finished job's record has each task's
    /// output exactly once however often it ran.
    /// </summary>
    public IReadOnlyList<OutputChunk> ReadOutput(Guid jobId, long afterOffset, int limit)
    {
        using var connection = backend.Open();
        return ReadOutput(Statements.On(connection), jobId, afterOffset, limit);
    }

    private static List<OutputChunk> ReadOutput(Statements statements, Guid jobId, long afterOffset, int limit)
    {
        using var statement = statements.Command("""
            SELECT o.offset, o.task_id, t.idx, o.stream, o.data, a.number, o.at
            FROM output o
            JOIN tasks t ON t.id = o.task_id
            LEFT JOIN attempts a ON a.id = o.attempt_id
            WHERE o.job_id = @job AND o.offset > @after AND o.attempt_id = COALESCE(t.final_attempt, t.current_attempt)
            ORDER BY o.offset
            LIMIT @limit
            """);
        var query = statement.Query;
        query.Bind("@job", Id(jobId));
        query.Bind("@after", afterOffset);
        query.Bind("@limit", limit);
        using var reader = query.ExecuteReader();
        var chunks = new List<OutputChunk>();
        while (reader.Read())
        {
            chunks.Add(new OutputChunk
            {
                Offset = reader.GetInt64(0),
                TaskId = reader.GetString(1),
                TaskIndex = reader.GetInt32(2),
                Stream = (OutputStream)reader.GetInt32(3),
                Data = ByteString.CopyFrom((byte[])reader[4]),
                Attempt = reader.IsDBNull(5) ? 0 : reader.GetInt32(5),
                At = Time(reader, 6),
            });
        }

        return chunks;
    }

    public IReadOnlyList<HistoryPoint> ReadHistory(DateTimeOffset since)
    {
        using var connection = backend.Open();
        using var query = connection.CreateCommand();
        query.CommandText = "SELECT at, pool, queued, running, succeeded, failed FROM history WHERE at >= @since ORDER BY at, pool";
        query.Bind("@since", since.ToUnixTimeMilliseconds());
        using var reader = query.ExecuteReader();
        var points = new List<HistoryPoint>();
        while (reader.Read())
        {
            points.Add(new HistoryPoint
            {
                At = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(0))),
                Pool = reader.GetString(1),
                Queued = reader.GetInt64(2),
                Running = reader.GetInt64(3),
                Succeeded = reader.GetInt64(4),
                Failed = reader.GetInt64(5),
            });
        }

        return points;
    }

    /// <summary>Per pool: tasks queued and running (one indexed pass over the unfinished tasks).</summary>
    public IReadOnlyDictionary<string, (long Queued, long Running)> PoolCounts()
    {
        using var connection = backend.Open();
        using var query = connection.CreateCommand();
        query.CommandText = $"""
            SELECT j.pool, t.state, COUNT(*) FROM tasks t JOIN jobs j ON j.id = t.job_id
            WHERE t.state IN ({Sql.Unfinished}) AND t.published = 1 GROUP BY j.pool, t.state
            """;
        using var reader = query.ExecuteReader();
        var counts = new Dictionary<string, (long Queued, long Running)>(StringComparer.Ordinal);
        while (reader.Read())
        {
            var pool = reader.GetString(0);
            var current = counts.GetValueOrDefault(pool);
            counts[pool] = reader.GetInt32(1) == (int)TaskState.Queued
                ? current with { Queued = reader.GetInt64(2) }
                : current with { Running = reader.GetInt64(2) };
        }

        return counts;
    }

    /// <summary>Runs the database's own integrity check (used by tests and operators).</summary>
    public string IntegrityCheck()
    {
        using var connection = backend.Open();
        return backend.IntegrityCheck(connection);
    }

    /// <summary>A job's attempts, read with its record (by the attempts_job index; a test holds it to that).</summary>
    internal const string AttemptsOfJob =
        "SELECT task_id, number, worker_id, state, started_at, finished_at, exit_code, signal, error, http_status, cause, failure FROM attempts WHERE job_id = @job ORDER BY number";

    private static void LoadTasks(Statements statements, Job job, TaskPage? page)
    {
        // The page's tasks, by index: the attempts of exactly those.
        var tasks = "SELECT id FROM tasks WHERE job_id = @job"
            + (page?.State is { } state ? $" AND state = {StoredStates.Column(state)}" : "")
            + " ORDER BY idx" + (page is { Limit: > 0 } ? " LIMIT @limit OFFSET @offset" : page is { Offset: > 0 } ? " LIMIT 9223372036854775807 OFFSET @offset" : "");
        void Page(DbCommand query)
        {
            query.Bind("@job", job.Id);
            query.Bind("@limit", page?.Limit ?? 0);
            query.Bind("@offset", page?.Offset ?? 0);
        }

        var attempts = new Dictionary<string, List<Attempt>>();
        using (var statement = statements.Command(page is null ? AttemptsOfJob : $"{AttemptsOfJob[..AttemptsOfJob.IndexOf(" ORDER BY", StringComparison.Ordinal)]} AND task_id IN ({tasks}) ORDER BY number"))
        {
            var query = statement.Query;
            Page(query);
            using var reader = query.ExecuteReader();
            while (reader.Read())
            {
                var attempt = new Attempt
                {
                    Number = reader.GetInt32(1),
                    WorkerId = reader.GetString(2),
                    State = StoredStates.FromColumn(reader.GetInt32(3)),
                    StartedAt = Time(reader, 4),
                    FinishedAt = Time(reader, 5),
                    Error = reader.IsDBNull(8) ? "" : reader.GetString(8),
                    Cause = reader.IsDBNull(10) ? "" : reader.GetString(10),
                    FailureKind = (DistributedExecutor.Contracts.V1.FailureKind)reader.GetInt32(11),
                };
                if (!reader.IsDBNull(6))
                {
                    attempt.ExitCode = reader.GetInt32(6);
                }

                if (!reader.IsDBNull(7))
                {
                    attempt.Signal = reader.GetInt32(7);
                }

                if (!reader.IsDBNull(9))
                {
                    attempt.HttpStatus = reader.GetInt32(9);
                }

                var taskId = reader.GetString(0);
                if (!attempts.TryGetValue(taskId, out var list))
                {
                    attempts[taskId] = list = [];
                }

                list.Add(attempt);
            }
        }

        using (var statement = statements.Command("SELECT id, idx, state, spec, exit_code, signal, error, worker_id, truncated, started_at, finished_at, http_status, failure FROM tasks"
            + (page is null ? " WHERE job_id = @job ORDER BY idx" : $" WHERE id IN ({tasks}) ORDER BY idx")))
        {
            var query = statement.Query;
            Page(query);
            using var reader = query.ExecuteReader();
            while (reader.Read())
            {
                var task = new JobTask
                {
                    Id = reader.GetString(0),
                    Index = reader.GetInt32(1),
                    State = StoredStates.FromColumn(reader.GetInt32(2)),
                    Spec = TaskSpec.Parser.ParseFrom((byte[])reader[3]),
                    Error = reader.IsDBNull(6) ? "" : reader.GetString(6),
                    WorkerId = reader.IsDBNull(7) ? "" : reader.GetString(7),
                    Truncated = reader.GetInt32(8) == 1,
                    StartedAt = Time(reader, 9),
                    FinishedAt = Time(reader, 10),
                    FailureKind = (DistributedExecutor.Contracts.V1.FailureKind)reader.GetInt32(12),
                };
                if (!reader.IsDBNull(4))
                {
                    task.ExitCode = reader.GetInt32(4);
                }

                if (!reader.IsDBNull(5))
                {
                    task.Signal = reader.GetInt32(5);
                }

                if (!reader.IsDBNull(11))
                {
                    task.HttpStatus = reader.GetInt32(11);
                }

                if (attempts.TryGetValue(task.Id, out var list))
                {
                    task.Attempts.AddRange(list);
                }

                job.Tasks.Add(task);
            }
        }
    }

    /// <summary>The job made for an idempotency key, and whether the broker has confirmed it yet.</summary>
    public (Guid JobId, bool Accepted)? FindByIdempotencyKey(string key)
    {
        using var connection = backend.Open();
        using var query = Command(connection, "SELECT id, accepted FROM jobs WHERE idempotency_key = @key", [("@key", key)]);
        using var reader = query.ExecuteReader();
        return reader.Read() ? (Guid.Parse(reader.GetString(0)), reader.GetInt32(1) == 1) : null;
    }

    /// <summary>Workers with attempts still running, per the store.</summary>
    public IReadOnlyList<string> WorkersWithRunningAttempts()
    {
        using var connection = backend.Open();
        using var query = Command(connection, $"SELECT DISTINCT worker_id FROM attempts WHERE state = {Sql.Running}", []);
        using var reader = query.ExecuteReader();
        var workers = new List<string>();
        while (reader.Read())
        {
            workers.Add(reader.GetString(0));
        }

        return workers;
    }

    /// <summary>The earliest due time in the retry schedule (ms since the epoch, by the retries_due index), or null when it is empty.</summary>
    public long? EarliestRetryDue()
    {
        using var connection = backend.Open();
        return Scalar(connection, "SELECT MIN(due_at) FROM retries") is long at ? at : null;
    }

    /// <summary>Tasks to (re)publish: never-published ones, or with <paramref name="allUnfinished"/> every queued or running task.</summary>
    public IReadOnlyList<PendingTask> TasksToPublish(bool allUnfinished) =>
        Pending(allUnfinished ? $"t.state IN ({Sql.Unfinished})" : $"t.published = 0 AND t.state = {Sql.Queued}", []);

    /// <summary>
    /// Never-published tasks of jobs stored by masters that are gone (no live lease "master:&lt;id&gt;"), other than
    /// <paramref name="self"/>: what a master that died mid-way through a big job's outbox left for the others.
    /// </summary>
    public IReadOnlyList<PendingTask> TasksOfGoneMasters(string self, long now) =>
        Pending($"""
            t.published = 0 AND t.state = {Sql.Queued} AND j.master IS NOT NULL AND j.master <> @self
            AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.name = 'master:' || j.master AND l.expires_at >= @now)
            """, [("@self", self), ("@now", now)]);

    private List<PendingTask> Pending(string which, (string Name, object? Value)[] parameters)
    {
        using var connection = backend.Open();
        using var query = Command(connection, $"""
            SELECT t.id, t.job_id, t.spec, j.pool, t.dispatch FROM tasks t JOIN jobs j ON j.id = t.job_id
            WHERE {which} AND t.held = 0 AND NOT EXISTS (SELECT 1 FROM retries r WHERE r.task_id = t.id) ORDER BY j.seq, t.idx
            """, parameters);
        using var reader = query.ExecuteReader();
        var pending = new List<PendingTask>();
        while (reader.Read())
        {
            pending.Add(new PendingTask(
                Guid.Parse(reader.GetString(1)), Guid.Parse(reader.GetString(0)),
                TaskSpec.Parser.ParseFrom((byte[])reader[2]), reader.GetString(3), reader.GetInt32(4)));
        }

        return pending;
    }

    private static Job ReadJob(DbDataReader reader)
    {
        var job = new Job
        {
            Id = reader.GetString(0),
            Pool = reader.GetString(1),
            State = StoredStates.FromColumn(reader.GetInt32(2)),
            TaskCount = reader.GetInt32(3),
            CreatedAt = Time(reader, 4),
            FinishedAt = Time(reader, 5),
            IdempotencyKey = reader.IsDBNull(7) ? "" : reader.GetString(7),
            MaxParallel = reader.GetInt32(8),
            MaxErrors = reader.GetInt32(9),
            SubmittedBy = reader.IsDBNull(11) ? "" : reader.GetString(11),
            CanceledBy = reader.IsDBNull(12) ? "" : reader.GetString(12),
            Command = reader.IsDBNull(13) ? "" : reader.GetString(13),
            NotBefore = Time(reader, 14),
            ConcurrencyKey = reader.IsDBNull(15) ? "" : reader.GetString(15),
        };

        // Queued until its time comes: Scheduled; until the jobs it runs after ended: Waiting.
        if (job.State == TaskState.Queued && job.NotBefore is { } due && due.ToDateTimeOffset() > DateTimeOffset.UtcNow)
        {
            job.State = TaskState.Scheduled;
        }
        else if (job.State == TaskState.Queued && reader.GetInt32(16) == 1)
        {
            job.State = TaskState.Waiting;
        }
        if (!reader.IsDBNull(6))
        {
            job.Labels.Add(System.Text.Json.JsonSerializer.Deserialize(reader.GetString(6), LabelsJson.Default.DictionaryStringString)!);
        }

        return job;
    }

    private static Timestamp? Time(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal)));
}
