using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Master.Options;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using DistributedExecutor.Master.Jobs.Store;
using static DistributedExecutor.Master.Jobs.Store.StoreSql;
using Microsoft.Data.Sqlite;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// Jobs, tasks, attempts and output in SQLite (WAL). Writes go through one connection under a lock, each in a
/// transaction, so an event is applied whole or not at all; reads use their own connections. Every event
/// handler is idempotent: attempts are keyed by their id and output batches by (attempt, sequence, part).
/// </summary>
internal sealed class JobStore : IDisposable
{
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly Lock _writeLock = new();
    private readonly TimeProvider _time;
    private readonly JobSignals _signals;
    private readonly DistexecMetrics? _metrics;
    private int _activeJobs;

    public JobStore(MasterOptions options, TimeProvider time, JobSignals signals, DistexecMetrics? metrics = null)
    {
        _metrics = metrics;
        _time = time;
        _signals = signals;
        var fullPath = Path.GetFullPath(options.DatabasePath);
        // The store holds every job's env and output: readable by the master's user only (tasks run as another).
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        Queries = new JobQueries(_connectionString);
        _writer = StoreSql.Open(_connectionString);
        // Before WAL mode creates the -wal and -shm files: SQLite gives them the database file's mode.
        RestrictToOwner(fullPath);
        Execute(_writer, "PRAGMA journal_mode=WAL;");
        StoreMigrations.Apply(_writer, fullPath);
        _activeJobs = (int)(long)Scalar(_writer, $"SELECT COUNT(*) FROM jobs WHERE state IN ({Sql.Unfinished})")!;
    }

    private static void RestrictToOwner(string path)
    {
        const UnixFileMode OthersMayTouch = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
        try
        {
            if ((File.GetUnixFileMode(path) & OthersMayTouch) != 0)
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
        catch (UnauthorizedAccessException)
        {
            // Not ours to change (an operator's choice on a shared volume); the master still runs.
        }
    }

    /// <summary>Jobs queued or running (what MAX_CONCURRENT_JOBS bounds).</summary>
    public int ActiveJobs => Volatile.Read(ref _activeJobs);

    /// <summary>The read model (jobs, tasks, attempts, output as the API shows them), on connections of its own.</summary>
    public JobQueries Queries { get; }

    public Job? GetJob(Guid jobId, bool withTasks) => Queries.GetJob(jobId, withTasks);

    public (IReadOnlyList<Job> Jobs, string NextPageToken) ListJobs(TaskState state, string? pool, int pageSize, long? beforeSeq, IReadOnlyDictionary<string, string>? labels = null) =>
        Queries.ListJobs(state, pool, pageSize, beforeSeq, labels);

    public IReadOnlyList<OutputChunk> ReadOutput(Guid jobId, long afterOffset, int limit) => Queries.ReadOutput(jobId, afterOffset, limit);

    public IReadOnlyDictionary<string, (long Queued, long Running)> PoolCounts() => Queries.PoolCounts();

    public string IntegrityCheck() => Queries.IntegrityCheck();

    public void Dispose() => _writer.Dispose();

    /// <summary>Stores a new job with its tasks, not yet published; returns the record as stored (Queued).</summary>
    public Job CreateJob(
        Guid jobId,
        string pool,
        IReadOnlyList<(Guid TaskId, TaskSpec Spec)> tasks,
        string? idempotencyKey = null,
        IReadOnlyDictionary<string, string>? labels = null,
        int maxParallel = 0,
        int maxErrors = 0)
    {
        var now = Now();
        var job = new Job
        {
            Id = Id(jobId),
            Pool = pool,
            State = TaskState.Queued,
            TaskCount = tasks.Count,
            CreatedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(now)),
            IdempotencyKey = idempotencyKey ?? "",
            MaxParallel = maxParallel,
            MaxErrors = maxErrors,
        };
        foreach (var (key, value) in labels ?? new Dictionary<string, string>())
        {
            job.Labels[key] = value;
        }
        for (var i = 0; i < tasks.Count; i++)
        {
            job.Tasks.Add(new JobTask { Id = Id(tasks[i].TaskId), Index = i, State = TaskState.Queued, Spec = tasks[i].Spec });
        }

        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            try
            {
                Execute(_writer, """
                    INSERT INTO jobs(id, pool, state, task_count, created_at, idempotency_key, labels, max_parallel, max_errors)
                    VALUES($id, $pool, 1, $count, $now, $key, $labels, $parallel, $errors)
                    """,
                    ("$id", Id(jobId)), ("$pool", pool), ("$count", tasks.Count), ("$now", now), ("$parallel", maxParallel), ("$errors", maxErrors),
                    ("$key", string.IsNullOrEmpty(idempotencyKey) ? null : idempotencyKey),
                    ("$labels", job.Labels.Count == 0 ? null : System.Text.Json.JsonSerializer.Serialize(job.Labels.ToDictionary(), LabelsJson.Default.DictionaryStringString)));
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 19 && !string.IsNullOrEmpty(idempotencyKey))
            {
                throw new DuplicateIdempotencyKeyException(idempotencyKey);
            }

            foreach (var (key, value) in job.Labels)
            {
                Execute(_writer, "INSERT INTO job_labels(job_id, key, value) VALUES($job, $key, $value)", ("$job", Id(jobId)), ("$key", key), ("$value", value));
            }

            using var insert = _writer.CreateCommand();
            insert.CommandText = "INSERT INTO tasks(id, job_id, idx, state, spec, held, target_worker) VALUES($id, $job, $idx, 1, $spec, $held, $target)";
            var target = insert.Parameters.Add("$target", SqliteType.Text);
            var id = insert.Parameters.Add("$id", SqliteType.Text);
            var held = insert.Parameters.Add("$held", SqliteType.Integer);
            insert.Parameters.AddWithValue("$job", Id(jobId));
            var idx = insert.Parameters.Add("$idx", SqliteType.Integer);
            var spec = insert.Parameters.Add("$spec", SqliteType.Blob);
            for (var i = 0; i < tasks.Count; i++)
            {
                id.Value = Id(tasks[i].TaskId);
                idx.Value = i;
                held.Value = maxParallel > 0 && i >= maxParallel ? 1 : 0;
                target.Value = tasks[i].Spec.Worker.Length == 0 ? DBNull.Value : tasks[i].Spec.Worker;
                spec.Value = tasks[i].Spec.ToByteArray();
                insert.ExecuteNonQuery();
            }

            tx.Commit();
            _activeJobs++;
        }

        return job;
    }

    /// <summary>
    /// Removes up to <paramref name="batch"/> jobs that finished before <paramref name="before"/>, with their
    /// tasks, attempts, output and labels, in one short transaction. Queued and running jobs are never touched.
    /// </summary>
    public int DeleteFinishedBefore(DateTimeOffset before, int batch)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            var ids = new List<string>();
            using (var query = _writer.CreateCommand())
            {
                query.CommandText = $"SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < $before AND state NOT IN ({Sql.Unfinished}) LIMIT $batch";
                query.Parameters.AddWithValue("$before", before.ToUnixTimeMilliseconds());
                query.Parameters.AddWithValue("$batch", batch);
                using var reader = query.ExecuteReader();
                while (reader.Read())
                {
                    ids.Add(reader.GetString(0));
                }
            }

            foreach (var id in ids)
            {
                foreach (var table in new[] { "output", "attempts", "retries", "tasks", "job_labels" })
                {
                    Execute(_writer, $"DELETE FROM {table} WHERE job_id = $job", ("$job", id));
                }

                Execute(_writer, "DELETE FROM jobs WHERE id = $job", ("$job", id));
            }

            tx.Commit();
            return ids.Count;
        }
    }

    /// <summary>The job made for an idempotency key, and whether the broker has confirmed it yet.</summary>
    public (Guid JobId, bool Accepted)? FindByIdempotencyKey(string key)
    {
        using var connection = Open(_connectionString);
        using var query = connection.CreateCommand();
        query.CommandText = "SELECT id, accepted FROM jobs WHERE idempotency_key = $key";
        query.Parameters.AddWithValue("$key", key);
        using var reader = query.ExecuteReader();
        return reader.Read() ? (Guid.Parse(reader.GetString(0)), reader.GetInt32(1) == 1) : null;
    }

    public void MarkPublished(Guid jobId)
    {
        lock (_writeLock)
        {
            // Only now, with every task confirmed by the broker, does the job become visible as Queued.
            using var tx = _writer.BeginTransaction();
            Execute(_writer, "UPDATE tasks SET published = 1 WHERE job_id = $job AND published = 0 AND held = 0 AND NOT EXISTS (SELECT 1 FROM retries r WHERE r.task_id = tasks.id)", ("$job", Id(jobId)));
            Execute(_writer, "UPDATE jobs SET accepted = 1 WHERE id = $job", ("$job", Id(jobId)));
            tx.Commit();
        }
    }

    /// <summary>Removes a job that was never published (the broker refused it), so nothing half-created stays.</summary>
    public void DeleteUnpublishedJob(Guid jobId)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            Execute(_writer, "DELETE FROM output WHERE job_id = $job", ("$job", Id(jobId)));
            Execute(_writer, "DELETE FROM attempts WHERE job_id = $job", ("$job", Id(jobId)));
            Execute(_writer, "DELETE FROM tasks WHERE job_id = $job", ("$job", Id(jobId)));
            var removed = Execute(_writer, $"DELETE FROM jobs WHERE id = $job AND state IN ({Sql.Unfinished})", ("$job", Id(jobId)));
            tx.Commit();
            if (removed > 0)
            {
                _activeJobs--;
            }
        }
    }

    /// <summary>Marks the job canceled-by-request and cancels its queued tasks. Null when there is no such job.</summary>
    public Job? CancelJob(Guid jobId)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            var updated = Execute(_writer, "UPDATE jobs SET cancel_requested = 1 WHERE id = $job AND accepted = 1", ("$job", Id(jobId)));
            if (updated == 0)
            {
                return null;
            }

            Execute(_writer, $"UPDATE tasks SET state = {Sql.Canceled}, error = 'canceled before it started', finished_at = $now WHERE job_id = $job AND state = {Sql.Queued}",
                ("$job", Id(jobId)), ("$now", Now()));
            RefreshJobState(jobId);
            tx.Commit();
        }

        _signals.Notify(jobId);
        return GetJob(jobId, withTasks: true);
    }

    /// <summary>Applies TaskStarted. Returns true when the task must be stopped (its job was canceled, or it already ended).</summary>
    public bool ApplyStarted(TaskStarted message)
    {
        bool stop;
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            var task = ReadTaskForUpdate(message.TaskId);
            if (task is null)
            {
                // A task this master does not know (deleted, or another store): tell the worker to drop it.
                return true;
            }

            var existing = Scalar(_writer, "SELECT number FROM attempts WHERE id = $id", ("$id", Id(message.AttemptId)));
            stop = task.CancelRequested || TaskRules.IsTerminal(task.State);
            if (existing is null)
            {
                // A run of an earlier dispatch (a retry has replaced it), or a second copy of this dispatch's
                // message (published twice around a master crash; a redelivery has a delivery count above 1):
                // recorded, and stopped at once, so a retry never runs twice.
                var dispatch = Math.Max(1, message.Dispatch);
                var stale = dispatch < task.Dispatch
                    || (message.DeliveryCount <= 1 && (long)Scalar(_writer, "SELECT COUNT(*) FROM attempts WHERE task_id = $task AND dispatch = $dispatch",
                        ("$task", Id(message.TaskId)), ("$dispatch", dispatch))! > 0);
                var cause = InsertAttempt(message.JobId, message.TaskId, message.AttemptId, message.WorkerId, message.StartedAt,
                    number => stale ? "duplicate" : task.NextCause ?? (number == 1 ? "first" : "redelivery"), dispatch);
                if (cause == "redelivery")
                {
                    _metrics?.Redeliveries.Add(1);
                }

                if (stale)
                {
                    stop = true;
                }
                else if (TaskRules.OnStarted(task.State) is { } next)
                {
                    Execute(_writer, """
                        UPDATE tasks SET state = $state, current_attempt = $attempt, worker_id = $worker, next_cause = NULL,
                            started_at = COALESCE(started_at, $started)
                        WHERE id = $task
                        """,
                        ("$state", (int)next), ("$attempt", Id(message.AttemptId)), ("$worker", message.WorkerId),
                        ("$started", message.StartedAt.ToUnixTimeMilliseconds()), ("$task", Id(message.TaskId)));
                    RefreshJobState(message.JobId);
                }
            }

            tx.Commit();
        }

        _signals.Notify(message.JobId);
        return stop;
    }

    public void ApplyOutput(TaskOutput message)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            using var insert = _writer.CreateCommand();
            insert.CommandText = """
                INSERT OR IGNORE INTO output(job_id, task_id, attempt_id, seq, part, stream, data)
                VALUES($job, $task, $attempt, $seq, $part, $stream, $data)
                """;
            insert.Parameters.AddWithValue("$job", Id(message.JobId));
            insert.Parameters.AddWithValue("$task", Id(message.TaskId));
            insert.Parameters.AddWithValue("$attempt", Id(message.AttemptId));
            insert.Parameters.AddWithValue("$seq", message.Sequence);
            var part = insert.Parameters.Add("$part", SqliteType.Integer);
            var stream = insert.Parameters.Add("$stream", SqliteType.Integer);
            var data = insert.Parameters.Add("$data", SqliteType.Blob);
            for (var i = 0; i < message.Chunks.Count; i++)
            {
                part.Value = i;
                stream.Value = (int)message.Chunks[i].Stream;
                data.Value = message.Chunks[i].Data;
                if (insert.ExecuteNonQuery() > 0 && _metrics is not null)
                {
                    _metrics.OutputBytes.Add(message.Chunks[i].Data.Length,
                        new KeyValuePair<string, object?>("stream", message.Chunks[i].Stream == OutputStreamKind.Stderr ? "stderr" : "stdout"));
                }
            }

            tx.Commit();
        }

        _signals.Notify(message.JobId);
    }

    /// <summary>Applies TaskFinished; returns the held-back tasks of a --max-parallel job that may now be published.</summary>
    public IReadOnlyList<PendingTask> ApplyFinished(TaskFinished message)
    {
        IReadOnlyList<PendingTask> released = [];
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            var task = ReadTaskForUpdate(message.TaskId);
            if (task is null)
            {
                return released;
            }

            // An attempt the master marked lost (no heartbeats) may still report: its worker was alive and
            // acknowledged the message, so this report is the only result the task will ever get.
            switch (Scalar(_writer, $"SELECT finished_at IS NOT NULL AND state <> {Sql.Lost} FROM attempts WHERE id = $id", ("$id", Id(message.AttemptId))))
            {
                case 1L:
                    // Already applied: a duplicate.
                    return released;
                case null:
                    // TaskFinished overtook its TaskStarted (or that was lost): record the attempt, then end it.
                    InsertAttempt(message.JobId, message.TaskId, message.AttemptId, message.WorkerId, message.StartedAt);
                    break;
            }

            Execute(_writer, """
                UPDATE attempts SET state = $state, finished_at = $finished, exit_code = $exit, signal = $signal, error = $error,
                    http_status = $http, failure = $failure
                WHERE id = $id
                """,
                ("$state", (int)TaskRules.ToState(message.Outcome)), ("$finished", message.FinishedAt.ToUnixTimeMilliseconds()),
                ("$exit", message.ExitCode), ("$signal", message.Signal), ("$error", message.Error), ("$http", message.HttpStatus),
                ("$failure", (int)message.Failure), ("$id", Id(message.AttemptId)));

            var isLatest = task.CurrentAttempt is null || task.CurrentAttempt == Id(message.AttemptId);
            if (TaskRules.OnFinished(task.State, isLatest, message.Outcome, task.CancelRequested) is { } next)
            {
                if (TaskRules.IsTerminal(next) && isLatest && !task.CancelRequested && RetryDue(message, next, task) is { } due)
                {
                    // The task's retry policy asks for another run: queued again, with the delay kept in the store
                    // (a master restart neither loses it nor runs it early); the retry scheduler publishes it when due.
                    Execute(_writer, $"""
                        UPDATE tasks SET state = {Sql.Queued}, dispatch = dispatch + 1, next_cause = 'retry', published = 0,
                            exit_code = $exit, signal = $signal, error = $error, http_status = $http, failure = $failure
                        WHERE id = $task
                        """,
                        ("$failure", (int)message.Failure), ("$exit", message.ExitCode), ("$signal", message.Signal), ("$http", message.HttpStatus), ("$task", Id(message.TaskId)),
                        ("$error", $"run {task.Dispatch} {next.ToString().ToLowerInvariant()}{(message.Error is { Length: > 0 } e ? $" ({e})" : message.ExitCode is { } x ? $" (exit {x})" : "")}; retry at {due:HH:mm:ss.fff}Z"));
                    Execute(_writer, "INSERT OR REPLACE INTO retries(task_id, job_id, due_at, dispatch) VALUES($task, $job, $due, $dispatch)",
                        ("$task", Id(message.TaskId)), ("$job", Id(message.JobId)), ("$due", due.ToUnixTimeMilliseconds()), ("$dispatch", task.Dispatch + 1));
                }
                else if (TaskRules.IsTerminal(next))
                {
                    _metrics?.RecordFinished(next.ToString(), message.FinishedAt - message.StartedAt);
                    Execute(_writer, """
                        UPDATE tasks SET state = $state, final_attempt = $attempt, current_attempt = $attempt, exit_code = $exit,
                            signal = $signal, error = $error, worker_id = $worker, truncated = $truncated, finished_at = $finished,
                            started_at = COALESCE(started_at, $started), http_status = $http, failure = $failure
                        WHERE id = $task
                        """,
                        ("$failure", next == TaskState.Failed ? (int)message.Failure : 0), ("$state", (int)next), ("$attempt", Id(message.AttemptId)), ("$exit", message.ExitCode), ("$signal", message.Signal),
                        ("$error", next == TaskState.Canceled && message.Outcome == TaskOutcome.Abandoned ? "canceled" : message.Error),
                        ("$worker", message.WorkerId), ("$truncated", message.Truncated ? 1 : 0),
                        ("$finished", message.FinishedAt.ToUnixTimeMilliseconds()), ("$started", message.StartedAt.ToUnixTimeMilliseconds()),
                        ("$http", message.HttpStatus), ("$task", Id(message.TaskId)));
                }
                else
                {
                    Execute(_writer, "UPDATE tasks SET state = $state WHERE id = $task", ("$state", (int)next), ("$task", Id(message.TaskId)));
                }

                RefreshJobState(message.JobId);
                released = ApplyJobLimits(message.JobId);
            }

            tx.Commit();
        }

        _signals.Notify(message.JobId);
        return released;
    }

    /// <summary>
    /// Marks the unfinished attempts of a lost worker as lost. Their tasks go back to Queued (the broker
    /// redelivers their messages), or to Canceled when their job was canceled. Returns the affected jobs.
    /// </summary>
    public IReadOnlyList<Guid> MarkWorkerLost(string workerId, string reason)
    {
        var jobs = new List<Guid>();
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            var lost = new List<(string Attempt, string Task, string Job)>();
            using (var query = _writer.CreateCommand())
            {
                query.CommandText = $"SELECT id, task_id, job_id FROM attempts WHERE state = {Sql.Running} AND worker_id = $worker";
                query.Parameters.AddWithValue("$worker", workerId);
                using var reader = query.ExecuteReader();
                while (reader.Read())
                {
                    lost.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
                }
            }

            foreach (var (attempt, task, job) in lost)
            {
                Execute(_writer, $"UPDATE attempts SET state = {Sql.Lost}, finished_at = $now, error = $reason, failure = $lost WHERE id = $id",
                    ("$now", Now()), ("$reason", reason), ("$lost", (int)DistributedExecutor.Contracts.Messages.FailureKind.Lost), ("$id", attempt));
                var cancel = (long)(Scalar(_writer, "SELECT cancel_requested FROM jobs WHERE id = $job", ("$job", job)) ?? 0L) == 1;
                Execute(_writer, $"""
                    UPDATE tasks SET state = $state, error = $error, finished_at = CASE WHEN $state = {Sql.Canceled} THEN $now ELSE finished_at END
                    WHERE id = $task AND current_attempt = $attempt AND state = {Sql.Running}
                    """,
                    ("$state", cancel ? 6 : 1), ("$error", cancel ? "canceled" : null), ("$now", Now()), ("$task", task), ("$attempt", attempt));
                var jobId = Guid.Parse(job);
                RefreshJobState(jobId);
                jobs.Add(jobId);
            }

            tx.Commit();
        }

        foreach (var job in jobs.Distinct())
        {
            _signals.Notify(job);
        }

        return jobs;
    }

    /// <summary>The broker gave up on a task's message: unless it already ended, the task fails with the reason.</summary>
    public IReadOnlyList<PendingTask> ApplyGaveUp(Guid jobId, Guid taskId, string reason)
    {
        IReadOnlyList<PendingTask> released;
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            var task = ReadTaskForUpdate(taskId);
            if (task is null || TaskRules.IsTerminal(task.State))
            {
                return [];
            }

            Execute(_writer, $"UPDATE attempts SET state = {Sql.Lost}, finished_at = $now, error = $reason, failure = $lost WHERE task_id = $task AND state = {Sql.Running}",
                ("$now", Now()), ("$reason", "worker lost"), ("$lost", (int)DistributedExecutor.Contracts.Messages.FailureKind.Lost), ("$task", Id(taskId)));
            Execute(_writer, "UPDATE tasks SET state = $state, error = $reason, finished_at = $now, failure = $failure WHERE id = $task",
                ("$state", (int)(task.CancelRequested ? TaskState.Canceled : TaskState.Failed)), ("$reason", reason), ("$now", Now()),
                ("$failure", task.CancelRequested ? 0 : (int)DistributedExecutor.Contracts.Messages.FailureKind.GaveUp), ("$task", Id(taskId)));
            RefreshJobState(jobId);
            released = ApplyJobLimits(jobId);
            tx.Commit();
        }

        _signals.Notify(jobId);
        return released;
    }

    /// <summary>Workers with attempts still running, per the store.</summary>
    public IReadOnlyList<string> WorkersWithRunningAttempts()
    {
        using var connection = Open(_connectionString);
        using var query = connection.CreateCommand();
        query.CommandText = $"SELECT DISTINCT worker_id FROM attempts WHERE state = {Sql.Running}";
        using var reader = query.ExecuteReader();
        var workers = new List<string>();
        while (reader.Read())
        {
            workers.Add(reader.GetString(0));
        }

        return workers;
    }

    /// <summary>Tasks to (re)publish: never-published ones, or with <paramref name="allUnfinished"/> every queued or running task.</summary>
    public IReadOnlyList<PendingTask> TasksToPublish(bool allUnfinished)
    {
        using var connection = Open(_connectionString);
        using var query = connection.CreateCommand();
        query.CommandText = allUnfinished
            ? $"SELECT t.id, t.job_id, t.idx, t.spec, j.pool, t.dispatch FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE t.state IN ({Sql.Unfinished}) AND t.held = 0 AND NOT EXISTS (SELECT 1 FROM retries r WHERE r.task_id = t.id) ORDER BY j.seq, t.idx"
            : $"SELECT t.id, t.job_id, t.idx, t.spec, j.pool, t.dispatch FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE t.published = 0 AND t.state = {Sql.Queued} AND t.held = 0 AND NOT EXISTS (SELECT 1 FROM retries r WHERE r.task_id = t.id) ORDER BY j.seq, t.idx";
        using var reader = query.ExecuteReader();
        var pending = new List<PendingTask>();
        while (reader.Read())
        {
            pending.Add(new PendingTask(
                Guid.Parse(reader.GetString(1)), Guid.Parse(reader.GetString(0)), reader.GetInt32(2),
                TaskSpec.Parser.ParseFrom((byte[])reader[3]), reader.GetString(4), reader.GetInt32(5)));
        }

        return pending;
    }

    /// <summary>After the in-memory bus lost its queues: running attempts are lost and their tasks queued again.</summary>
    public void RequeueAllRunning(string reason)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            Execute(_writer, $"UPDATE attempts SET state = {Sql.Lost}, finished_at = $now, error = $reason, failure = $lost WHERE state = {Sql.Running}",
                ("$now", Now()), ("$reason", reason), ("$lost", (int)DistributedExecutor.Contracts.Messages.FailureKind.Lost));
            Execute(_writer, $"UPDATE tasks SET state = {Sql.Queued} WHERE state = {Sql.Running}");
            Execute(_writer, $"UPDATE jobs SET state = {Sql.Queued} WHERE state = {Sql.Running} AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.state <> {Sql.Queued})");
            tx.Commit();
        }
    }

    private void RefreshJobState(Guid jobId) => RefreshJobState(Id(jobId));

    private void RefreshJobState(string jobId)
    {
        var counts = new Dictionary<TaskState, int>();
        using (var query = _writer.CreateCommand())
        {
            query.CommandText = "SELECT state, COUNT(*) FROM tasks WHERE job_id = $job GROUP BY state";
            query.Parameters.AddWithValue("$job", jobId);
            using var reader = query.ExecuteReader();
            while (reader.Read())
            {
                counts[(TaskState)reader.GetInt32(0)] = reader.GetInt32(1);
            }
        }

        TaskState previous;
        bool userCanceled;
        using (var query = _writer.CreateCommand())
        {
            query.CommandText = "SELECT state, cancel_requested FROM jobs WHERE id = $job";
            query.Parameters.AddWithValue("$job", jobId);
            using var reader = query.ExecuteReader();
            reader.Read();
            (previous, userCanceled) = ((TaskState)reader.GetInt32(0), reader.GetInt32(1) == 1);
        }

        var next = TaskRules.DeriveJobState(counts, userCanceled);
        if (previous == next)
        {
            return;
        }

        var terminal = TaskRules.IsTerminal(next);
        Execute(_writer, "UPDATE jobs SET state = $state, finished_at = $finished WHERE id = $job",
            ("$state", (int)next), ("$finished", terminal ? Now() : null), ("$job", jobId));
        if (terminal && !TaskRules.IsTerminal(previous))
        {
            _activeJobs--;
        }
        else if (!terminal && TaskRules.IsTerminal(previous))
        {
            _activeJobs++;
        }
    }

    /// <summary>A new running attempt, numbered after the task's earlier ones; returns its cause (chosen from its number).</summary>
    private string? InsertAttempt(Guid jobId, Guid taskId, Guid attemptId, string workerId, DateTimeOffset startedAt, Func<long, string>? causeOf = null, int dispatch = 1)
    {
        var number = (long)Scalar(_writer, "SELECT COUNT(*) FROM attempts WHERE task_id = $task", ("$task", Id(taskId)))! + 1;
        var cause = causeOf?.Invoke(number);
        Execute(_writer, """
            INSERT INTO attempts(id, task_id, job_id, number, worker_id, state, started_at, cause, dispatch)
            VALUES($id, $task, $job, $number, $worker, 2, $started, $cause, $dispatch)
            """,
            ("$id", Id(attemptId)), ("$task", Id(taskId)), ("$job", Id(jobId)), ("$number", number),
            ("$worker", workerId), ("$started", startedAt.ToUnixTimeMilliseconds()), ("$cause", cause), ("$dispatch", dispatch));
        return cause;
    }

    /// <summary>
    /// --max-errors: once that many tasks failed, the tasks not yet started are canceled. --max-parallel: held-back
    /// tasks are released (held = 0) while fewer than that many are queued or running; the caller publishes them.
    /// </summary>
    private IReadOnlyList<PendingTask> ApplyJobLimits(Guid jobId)
    {
        long maxParallel, maxErrors;
        string pool;
        using (var query = _writer.CreateCommand())
        {
            query.CommandText = "SELECT max_parallel, max_errors, pool FROM jobs WHERE id = $job";
            query.Parameters.AddWithValue("$job", Id(jobId));
            using var reader = query.ExecuteReader();
            if (!reader.Read())
            {
                return [];
            }

            (maxParallel, maxErrors, pool) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2));
        }

        if (maxErrors > 0)
        {
            var failed = (long)Scalar(_writer, $"SELECT COUNT(*) FROM tasks WHERE job_id = $job AND state IN ({Sql.Errors})", ("$job", Id(jobId)))!;
            if (failed >= maxErrors)
            {
                var skipped = Execute(_writer, $"""
                    UPDATE tasks SET state = {Sql.Canceled}, held = 0, finished_at = $now,
                        error = 'not started: ' || $failed || ' task(s) failed, the most --max-errors allows (' || $max || ')'
                    WHERE job_id = $job AND state = {Sql.Queued}
                    """, ("$now", Now()), ("$failed", failed), ("$max", maxErrors), ("$job", Id(jobId)));
                if (skipped > 0)
                {
                    Execute(_writer, "DELETE FROM retries WHERE job_id = $job", ("$job", Id(jobId)));
                    RefreshJobState(jobId);
                }

                return [];
            }
        }

        if (maxParallel <= 0)
        {
            return [];
        }

        var busy = (long)Scalar(_writer, $"SELECT COUNT(*) FROM tasks WHERE job_id = $job AND held = 0 AND state IN ({Sql.Unfinished})", ("$job", Id(jobId)))!;
        if (busy >= maxParallel)
        {
            return [];
        }

        var released = new List<PendingTask>();
        using (var query = _writer.CreateCommand())
        {
            query.CommandText = $"SELECT id, idx, spec, dispatch FROM tasks WHERE job_id = $job AND held = 1 AND state = {Sql.Queued} ORDER BY idx LIMIT $free";
            query.Parameters.AddWithValue("$job", Id(jobId));
            query.Parameters.AddWithValue("$free", maxParallel - busy);
            using var reader = query.ExecuteReader();
            while (reader.Read())
            {
                released.Add(new PendingTask(jobId, Guid.Parse(reader.GetString(0)), reader.GetInt32(1), TaskSpec.Parser.ParseFrom((byte[])reader[2]), pool, reader.GetInt32(3)));
            }
        }

        foreach (var task in released)
        {
            // Unheld but unpublished: if the master stops before publishing, start-up recovery publishes it.
            Execute(_writer, "UPDATE tasks SET held = 0 WHERE id = $task", ("$task", Id(task.TaskId)));
        }

        return released;
    }

    /// <summary>
    /// A lost worker's fan-out tasks that it had not finished: they can run nowhere else, so they end Failed as
    /// lost (never silently missing). Returns the tasks --max-parallel jobs may now release.
    /// </summary>
    public IReadOnlyList<PendingTask> FailTasksOfLostWorker(string workerId)
    {
        var released = new List<PendingTask>();
        var jobs = new List<Guid>();
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            using (var query = _writer.CreateCommand())
            {
                query.CommandText = $"SELECT DISTINCT job_id FROM tasks WHERE target_worker = $worker AND state IN ({Sql.Unfinished})";
                query.Parameters.AddWithValue("$worker", workerId);
                using var reader = query.ExecuteReader();
                while (reader.Read())
                {
                    jobs.Add(Guid.Parse(reader.GetString(0)));
                }
            }

            foreach (var job in jobs)
            {
                Execute(_writer, $"UPDATE attempts SET state = {Sql.Lost}, finished_at = $now, error = $reason, failure = $lost WHERE job_id = $job AND worker_id = $worker AND state = {Sql.Running}",
                    ("$now", Now()), ("$reason", $"worker {workerId} lost"), ("$lost", (int)DistributedExecutor.Contracts.Messages.FailureKind.Lost), ("$job", Id(job)), ("$worker", workerId));
                Execute(_writer, $"""
                    UPDATE tasks SET state = {Sql.Failed}, held = 0, finished_at = $now, failure = {Sql.FailureLost},
                        error = 'lost: worker ' || $worker || ' was lost before it finished its copy'
                    WHERE job_id = $job AND target_worker = $worker AND state IN ({Sql.Unfinished})
                    """, ("$now", Now()), ("$worker", workerId), ("$job", Id(job)));
                Execute(_writer, "DELETE FROM retries WHERE job_id = $job AND task_id IN (SELECT id FROM tasks WHERE target_worker = $worker)", ("$job", Id(job)), ("$worker", workerId));
                RefreshJobState(Id(job));
                released.AddRange(ApplyJobLimits(job));
            }

            tx.Commit();
        }

        foreach (var job in jobs)
        {
            _signals.Notify(job);
        }

        return released;
    }

    /// <summary>The broker confirmed released tasks.</summary>
    public void MarkTasksPublished(IEnumerable<Guid> taskIds)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            foreach (var id in taskIds)
            {
                Execute(_writer, "UPDATE tasks SET published = 1 WHERE id = $task", ("$task", Id(id)));
            }

            tx.Commit();
        }
    }

    /// <summary>When the task's retry policy wants another run after this outcome: the time it is due; else null.</summary>
    private DateTimeOffset? RetryDue(TaskFinished message, TaskState next, TaskRow task)
    {
        if (next is not (TaskState.Failed or TaskState.TimedOut) || message.Outcome == TaskOutcome.Abandoned)
        {
            return null;
        }

        var spec = TaskSpec.Parser.ParseFrom((byte[])Scalar(_writer, "SELECT spec FROM tasks WHERE id = $id", ("$id", Id(message.TaskId)))!);
        if (spec.Retry is not { } policy || task.Dispatch >= policy.MaxAttempts || !JobRules.Retries(policy, next, message.HttpStatus))
        {
            return null;
        }

        return _time.GetUtcNow() + JobRules.Backoff(policy, task.Dispatch, Random.Shared.NextDouble());
    }

    /// <summary>Retries whose time has come, to publish (tasks canceled meanwhile are dropped from the schedule).</summary>
    public IReadOnlyList<PendingTask> DueRetries(int limit)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            var due = new List<PendingTask>();
            var dropped = new List<string>();
            using (var query = _writer.CreateCommand())
            {
                query.CommandText = """
                    SELECT r.task_id, r.job_id, t.idx, t.spec, j.pool, r.dispatch, t.state, j.cancel_requested, t.dispatch
                    FROM retries r JOIN tasks t ON t.id = r.task_id JOIN jobs j ON j.id = r.job_id
                    WHERE r.due_at <= $now ORDER BY r.due_at LIMIT $limit
                    """;
                query.Parameters.AddWithValue("$now", Now());
                query.Parameters.AddWithValue("$limit", limit);
                using var reader = query.ExecuteReader();
                while (reader.Read())
                {
                    if (reader.GetInt32(6) != (int)TaskState.Queued || reader.GetInt32(7) == 1 || reader.GetInt32(5) != reader.GetInt32(8))
                    {
                        dropped.Add(reader.GetString(0));
                        continue;
                    }

                    due.Add(new PendingTask(Guid.Parse(reader.GetString(1)), Guid.Parse(reader.GetString(0)), reader.GetInt32(2),
                        TaskSpec.Parser.ParseFrom((byte[])reader[3]), reader.GetString(4), reader.GetInt32(5)));
                }
            }

            foreach (var task in dropped)
            {
                Execute(_writer, "DELETE FROM retries WHERE task_id = $task", ("$task", task));
            }

            tx.Commit();
            return due;
        }
    }

    /// <summary>The broker confirmed a retry's message: it leaves the schedule.</summary>
    public void MarkRetryPublished(Guid taskId, int dispatch)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            Execute(_writer, "DELETE FROM retries WHERE task_id = $task AND dispatch = $dispatch", ("$task", Id(taskId)), ("$dispatch", dispatch));
            Execute(_writer, "UPDATE tasks SET published = 1 WHERE id = $task AND dispatch = $dispatch", ("$task", Id(taskId)), ("$dispatch", dispatch));
            tx.Commit();
        }
    }

    private TaskRow? ReadTaskForUpdate(Guid taskId)
    {
        using var query = _writer.CreateCommand();
        query.CommandText = """
            SELECT t.state, t.current_attempt, j.cancel_requested, t.dispatch, t.next_cause FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE t.id = $id
            """;
        query.Parameters.AddWithValue("$id", Id(taskId));
        using var reader = query.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        return new TaskRow((TaskState)reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt32(2) == 1,
            reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetString(4));
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private sealed record TaskRow(TaskState State, string? CurrentAttempt, bool CancelRequested, int Dispatch, string? NextCause);
}

/// <summary>A second job with an idempotency key that already has one (the caller returns that job instead).</summary>
internal sealed class DuplicateIdempotencyKeyException(string key) : Exception($"idempotency key {key} is taken");

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class LabelsJson : System.Text.Json.Serialization.JsonSerializerContext;
