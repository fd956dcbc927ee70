using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Master.Options;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using System.Data.Common;
using static DistributedExecutor.Master.Jobs.Store.StoreSql;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// The job store: jobs, tasks, attempts and output, in SQLite (one master, the default) or PostgreSQL (several masters
/// sharing it), the difference kept in its <see cref="StoreBackend"/>. Writes go through one connection
/// (<see cref="StoreWriter"/>), each in a transaction; reads use connections of their own (<see cref="JobQueries"/>).
/// This type owns admission and a job's own life; workers' events are applied by <see cref="TaskEventWriter"/>,
/// retries kept by <see cref="RetrySchedule"/>, --max-parallel/--max-errors by <see cref="HeldTasks"/>.
/// </summary>
internal sealed class SqlJobStore : IJobStore, IDisposable
{
    private readonly StoreBackend _backend;
    private readonly StoreWriter _writer;
    private readonly JobQueries _queries;
    private readonly TaskEventWriter _events;
    private readonly RetrySchedule _retries;
    private readonly HeldTasks _held;
    private readonly JobSignals _signals;
    private readonly IDisposable? _feed;

    /// <summary>The store MASTER_DB_URL names (PostgreSQL), else the SQLite file at MASTER_DB_PATH.</summary>
    public SqlJobStore(MasterOptions options, TimeProvider time, JobSignals signals, DistexecMetrics? metrics = null, ILogger<SqlJobStore>? logger = null)
        : this(StoreBackends.For(options), time, signals, metrics, logger)
    {
    }

    public SqlJobStore(StoreBackend backend, TimeProvider time, JobSignals signals, DistexecMetrics? metrics = null, ILogger? logger = null)
    {
        _backend = backend;
        _signals = signals;
        _queries = new JobQueries(backend);
        var connection = backend.OpenAtStart(logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        backend.Migrate(connection);
        var active = (int)Long(Scalar(connection, $"SELECT COUNT(*) FROM jobs WHERE state IN ({Sql.Unfinished})"));
        _writer = new StoreWriter(connection, backend, time, active, logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        _retries = new RetrySchedule(_writer);
        _held = new HeldTasks(_writer);
        _events = new TaskEventWriter(_writer, _retries, _held, signals, metrics);
        Schedules = new ScheduleRows(_writer, backend);
        _feed = backend.ShareChanges(signals, Instance);
    }

    public Schedules.IScheduleStore Schedules { get; }

    public int ActiveJobs => _writer.ActiveJobs;

    public bool Shared => _backend.Shared;

    /// <summary>This master process in the store: its jobs carry it, its lease "master:&lt;id&gt;" says it is alive.</summary>
    public string Instance { get; } = Guid.NewGuid().ToString("N");

    public bool HoldLease(string name, TimeSpan ttl)
    {
        if (!_backend.Shared)
        {
            return true;
        }

        return _writer.Write(() =>
        {
            var now = _writer.Now();
            var expires = now + (long)ttl.TotalMilliseconds;
            // This master's own liveness, renewed with each lease it asks for.
            _writer.Execute("""
                INSERT INTO leases(name, holder, expires_at) VALUES(@name, @holder, @expires)
                ON CONFLICT(name) DO UPDATE SET expires_at = excluded.expires_at
                """, ("@name", "master:" + Instance), ("@holder", Instance), ("@expires", expires));
            // The lease: taken when free or expired, renewed by its holder, refused to anyone else.
            return _writer.Rows("""
                INSERT INTO leases(name, holder, expires_at) VALUES(@name, @holder, @expires)
                ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                WHERE leases.holder = excluded.holder OR leases.expires_at < @now
                RETURNING holder
                """, reader => reader.GetString(0), ("@name", name), ("@holder", Instance), ("@expires", expires), ("@now", now)).Count == 1;
        });
    }

    public IReadOnlyList<PendingTask> TasksOfGoneMasters() => _backend.Shared ? _queries.TasksOfGoneMasters(Instance, _writer.Now()) : [];

    public IReadOnlyList<SharedWorker> ExchangeWorkers(IReadOnlyList<SharedWorker> heard, DateTimeOffset since)
    {
        if (!_backend.Shared)
        {
            return [];
        }

        const string Heard = "SELECT worker_id, registration, registered_at, last_heartbeat, running, draining FROM workers WHERE last_heartbeat >= @since";
        static SharedWorker Read(DbDataReader reader) =>
            new(reader.GetString(0), (byte[])reader[1], reader.GetInt64(2), reader.GetInt64(3), reader.GetInt32(4), reader.GetInt32(5) == 1);
        if (heard.Count == 0)
        {
            // Nothing heard here since the last exchange (no worker talks to this master): a read, without the write lock.
            using var connection = _backend.Open();
            using var command = Command(connection, Heard, [("@since", since.ToUnixTimeMilliseconds())]);
            return Rows(command, Read);
        }

        return _writer.Write(() =>
        {
            var upsert = _writer.Prepared("""
                INSERT INTO workers(worker_id, registration, registered_at, last_heartbeat, running, draining)
                VALUES(@id, @registration, @registered, @seen, @running, @draining)
                ON CONFLICT(worker_id) DO UPDATE SET registration = excluded.registration, registered_at = excluded.registered_at,
                    last_heartbeat = excluded.last_heartbeat, running = excluded.running, draining = excluded.draining
                WHERE workers.last_heartbeat <= excluded.last_heartbeat
                """);
            var id = upsert.Bind("@id", System.Data.DbType.String);
            var registration = upsert.Bind("@registration", System.Data.DbType.Binary);
            var registered = upsert.Bind("@registered", System.Data.DbType.Int64);
            var seen = upsert.Bind("@seen", System.Data.DbType.Int64);
            var running = upsert.Bind("@running", System.Data.DbType.Int64);
            var draining = upsert.Bind("@draining", System.Data.DbType.Int64);
            foreach (var worker in heard)
            {
                (id.Value, registration.Value, registered.Value, seen.Value, running.Value, draining.Value) =
                    (worker.WorkerId, worker.Registration, worker.RegisteredAt, worker.LastHeartbeat, (long)worker.Running, worker.Draining ? 1L : 0L);
                upsert.ExecuteNonQuery();
            }

            // Workers silent for a month are forgotten by the store too (each master forgets them sooner, as configured).
            _writer.Execute("DELETE FROM workers WHERE last_heartbeat < @forgotten", ("@forgotten", _writer.Now() - (long)TimeSpan.FromDays(30).TotalMilliseconds));
            return _writer.Rows(Heard, Read, ("@since", since.ToUnixTimeMilliseconds()));
        });
    }

    public void Dispose()
    {
        _feed?.Dispose();
        _writer.Dispose();
        _backend.Dispose();
    }

    /// <summary>
    /// Stores a new job with its tasks, not yet published, in the writer's next group; returns the record as stored
    /// (Queued), or null when <paramref name="activeLimit"/> jobs are already queued or running (checked in the same
    /// write, so concurrent submissions never overshoot it).
    /// </summary>
    public async Task<Job?> CreateJobAsync(
        Guid jobId,
        string pool,
        IReadOnlyList<(Guid TaskId, TaskSpec Spec)> tasks,
        string? idempotencyKey = null,
        IReadOnlyDictionary<string, string>? labels = null,
        int maxParallel = 0,
        int maxErrors = 0,
        int activeLimit = int.MaxValue,
        string? submittedBy = null,
        DateTimeOffset? notBefore = null,
        string? concurrencyKey = null,
        IReadOnlyList<Guid>? after = null,
        AfterCondition afterCondition = AfterCondition.Unspecified)
    {
        var now = _writer.Now();
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
            SubmittedBy = submittedBy ?? "",
            Command = tasks.Count == 0 ? "" : JobRules.Summary(tasks[0].Spec),
            NotBefore = notBefore is { } at ? Timestamp.FromDateTimeOffset(at) : null,
            ConcurrencyKey = concurrencyKey ?? "",
        };
        job.After.AddRange((after ?? []).Select(Id));
        if (notBefore is { } due && due > DateTimeOffset.FromUnixTimeMilliseconds(now))
        {
            job.State = TaskState.Scheduled;
        }
        foreach (var (key, value) in labels ?? new Dictionary<string, string>())
        {
            job.Labels[key] = value;
        }
        for (var i = 0; i < tasks.Count; i++)
        {
            job.Tasks.Add(new JobTask { Id = Id(tasks[i].TaskId), Index = i, State = TaskState.Queued, Spec = tasks[i].Spec });
        }

        var admitted = await _writer.WriteGroupedAsync(() =>
        {
            if (_writer.ActiveJobsNow() >= activeLimit)
            {
                return false;
            }

            // Runs after other jobs: waiting while any of them has not ended; refused when one it needs already failed.
            var waiting = false;
            foreach (var dependency in after ?? [])
            {
                var depState = _writer.Rows("SELECT state FROM jobs WHERE id = @job AND accepted = 1", reader => StoredStates.FromColumn(reader.GetInt32(0)), ("@job", Id(dependency)));
                if (depState.Count == 0)
                {
                    throw new DependencyException($"no job {dependency} to run after");
                }

                if (!TaskRules.IsTerminal(depState[0]))
                {
                    waiting = true;
                }
                else if (depState[0] != TaskState.Succeeded && afterCondition != AfterCondition.Finished)
                {
                    throw new DependencyException($"job {dependency} it runs after already ended {depState[0]} (with --after-condition finished it would run anyway)");
                }
            }

            try
            {
                _writer.Execute($"""
                    INSERT INTO jobs(id, pool, state, task_count, created_at, idempotency_key, labels, max_parallel, max_errors, submitted_by, command, not_before, concurrency_key, waiting, after_condition, master)
                    VALUES(@id, @pool, {Sql.Queued}, @count, @now, @key, @labels, @parallel, @errors, @by, @command, @notBefore, @concurrencyKey, @waiting, @condition, @master)
                    """,
                    ("@master", Instance),
                    ("@waiting", waiting ? 1 : 0), ("@condition", (int)afterCondition),
                    ("@concurrencyKey", string.IsNullOrEmpty(concurrencyKey) ? null : concurrencyKey),
                    ("@notBefore", notBefore?.ToUnixTimeMilliseconds()),
                    ("@command", job.Command),
                    ("@by", string.IsNullOrEmpty(submittedBy) ? null : submittedBy),
                    ("@id", Id(jobId)), ("@pool", pool), ("@count", tasks.Count), ("@now", now), ("@parallel", maxParallel), ("@errors", maxErrors),
                    ("@key", string.IsNullOrEmpty(idempotencyKey) ? null : idempotencyKey),
                    ("@labels", job.Labels.Count == 0 ? null : System.Text.Json.JsonSerializer.Serialize(job.Labels.ToDictionary(), LabelsJson.Default.DictionaryStringString)));
            }
            catch (Exception ex) when (_backend.IsUniqueViolation(ex) && !string.IsNullOrEmpty(idempotencyKey))
            {
                throw new DuplicateIdempotencyKeyException(idempotencyKey);
            }

            foreach (var (key, value) in job.Labels)
            {
                _writer.Execute("INSERT INTO job_labels(job_id, key, value) VALUES(@job, @key, @value)", ("@job", Id(jobId)), ("@key", key), ("@value", value));
            }

            // The tasks that go now: the first ones, within --max-parallel and the room the concurrency key has left
            // (counted in this same write); the rest are held until tasks end.
            var unheld = waiting ? 0 : JobLimits.MayGo(maxParallel, busy: 0, _held.KeyRoom(concurrencyKey), tasks.Count);
            foreach (var dependency in after ?? [])
            {
                _writer.Execute("INSERT INTO job_deps(job_id, after_id) VALUES(@job, @after) ON CONFLICT DO NOTHING", ("@job", Id(jobId)), ("@after", Id(dependency)));
            }

            if (waiting)
            {
                job.State = TaskState.Waiting;
            }

            var insert = _writer.Prepared($"INSERT INTO tasks(id, job_id, idx, state, spec, held, target_worker, item) VALUES(@id, @job, @idx, {Sql.Queued}, @spec, @held, @target, @item)",
                ("@job", Id(jobId)));
            var item = insert.Bind("@item", System.Data.DbType.String);
            var target = insert.Bind("@target", System.Data.DbType.String);
            var id = insert.Bind("@id", System.Data.DbType.String);
            var held = insert.Bind("@held", System.Data.DbType.Int64);
            var idx = insert.Bind("@idx", System.Data.DbType.Int64);
            var spec = insert.Bind("@spec", System.Data.DbType.Binary);
            for (var i = 0; i < tasks.Count; i++)
            {
                id.Value = Id(tasks[i].TaskId);
                idx.Value = i;
                held.Value = i >= unheld ? 1 : 0;
                target.Value = tasks[i].Spec.Worker.Length == 0 ? DBNull.Value : tasks[i].Spec.Worker;
                item.Value = tasks[i].Spec.Item.Length == 0 ? DBNull.Value : tasks[i].Spec.Item;
                spec.Value = tasks[i].Spec.ToByteArray();
                insert.ExecuteNonQuery();
                if (notBefore is { } at && held.Value is 0)
                {
                    // Published when due by the retry scheduler, like a retry's first dispatch (held ones follow as usual).
                    _writer.Execute("INSERT INTO retries(task_id, job_id, due_at, dispatch) VALUES(@task, @job, @due, 1)",
                        ("@task", id.Value), ("@job", Id(jobId)), ("@due", at.ToUnixTimeMilliseconds()));
                    _retries.Scheduled(at.ToUnixTimeMilliseconds());
                }
            }

            _writer.JobAdded();
            job.Counts = new TaskCounts { Queued = tasks.Count, Waiting = (int)Math.Max(0, tasks.Count - unheld) };
            return true;
        }).ConfigureAwait(false);

        return admitted ? job : null;
    }

    /// <summary>
    /// Removes up to <paramref name="batch"/> jobs that finished before <paramref name="before"/>, with their
    /// tasks, attempts, output and labels, in one short transaction. Queued and running jobs are never touched.
    /// </summary>
    public int DeleteFinishedBefore(DateTimeOffset before, int batch) => _writer.Write(() =>
    {
        var ids = _writer.Rows($"SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < @before AND state NOT IN ({Sql.Unfinished}) LIMIT @batch",
            reader => reader.GetString(0), ("@before", before.ToUnixTimeMilliseconds()), ("@batch", batch));
        foreach (var id in ids)
        {
            DeleteJobRows(id, JobRowTables);
            _writer.Execute("DELETE FROM jobs WHERE id = @job", ("@job", id));
        }

        return ids.Count;
    });

    public Task MarkPublishedAsync(Guid jobId, IReadOnlyList<Guid>? only = null) => _writer.WriteGroupedAsync(() =>
    {
        // Only now, with its tasks confirmed by the broker, does the job become visible as Queued. The tasks of a big
        // job not yet published stay unmarked: a master that dies before its outbox sent them sends them at start.
        if (only is null)
        {
            _writer.Execute("UPDATE tasks SET published = 1 WHERE job_id = @job AND published = 0 AND held = 0 AND NOT EXISTS (SELECT 1 FROM retries r WHERE r.task_id = tasks.id)", ("@job", Id(jobId)));
        }
        else
        {
            SetPublished(only);
        }

        _writer.Execute("UPDATE jobs SET accepted = 1 WHERE id = @job", ("@job", Id(jobId)));
        return 0;
    });

    /// <summary>Removes a job that was never published (the broker refused it), so nothing half-created stays.</summary>
    public void DeleteUnpublishedJob(Guid jobId) => _writer.Write(() =>
    {
        DeleteJobRows(Id(jobId), JobRowTables);
        if (_writer.Execute($"DELETE FROM jobs WHERE id = @job AND state IN ({Sql.Unfinished})", ("@job", Id(jobId))) > 0)
        {
            _writer.JobRemoved();
        }
    });

    /// <summary>The tables that hold a job's rows by its job_id, each found by an index on it (a test holds them to that).</summary>
    internal static readonly string[] JobRowTables = ["output", "attempts", "retries", "tasks", "job_labels", "job_deps"];

    private void DeleteJobRows(string jobId, string[] tables)
    {
        foreach (var table in tables)
        {
            _writer.Execute($"DELETE FROM {table} WHERE job_id = @job", ("@job", jobId));
        }
    }

    /// <summary>
    /// Marks the job canceled-by-request and cancels its queued tasks; in the same write, what its end lets go (its
    /// key's waiting tasks, the jobs that run after it). Null when there is no such job.
    /// </summary>
    public CanceledJob? CancelJob(Guid jobId, string? canceledBy = null)
    {
        var released = _writer.Write(() =>
        {
            // The first to cancel is recorded; canceling again changes nothing.
            if (_writer.Execute("UPDATE jobs SET cancel_requested = 1, canceled_by = CASE WHEN cancel_requested = 1 THEN canceled_by ELSE @by END WHERE id = @job AND accepted = 1",
                ("@job", Id(jobId)), ("@by", string.IsNullOrEmpty(canceledBy) ? null : canceledBy)) == 0)
            {
                return null;
            }

            _writer.Execute($"UPDATE tasks SET state = {Sql.Canceled}, error = 'canceled before it started', finished_at = @now WHERE job_id = @job AND state = {Sql.Queued}",
                ("@job", Id(jobId)), ("@now", _writer.Now()));
            return _held.Apply(jobId);
        });
        if (released is null)
        {
            return null;
        }

        _signals.Notify(jobId);
        return new CanceledJob(GetJob(jobId, withTasks: true)!, released);
    }

    /// <summary>The broker confirmed released tasks.</summary>
    public void MarkTasksPublished(IEnumerable<Guid> taskIds) => _writer.Write(() => SetPublished(taskIds));

    /// <summary>Marks these tasks confirmed by the broker, inside the caller's write.</summary>
    private void SetPublished(IEnumerable<Guid> taskIds)
    {
        var mark = _writer.Prepared("UPDATE tasks SET published = 1 WHERE id = @task");
        var task = mark.Bind("@task", System.Data.DbType.String);
        foreach (var id in taskIds)
        {
            task.Value = Id(id);
            mark.ExecuteNonQuery();
        }
    }

    public Task<bool> ApplyStartedAsync(TaskStarted message) => _events.ApplyStartedAsync(message);

    public Task ApplyOutputAsync(TaskOutput message, bool waitForAttempt = true) => _events.ApplyOutputAsync(message, waitForAttempt);

    public Task<IReadOnlyList<PendingTask>> ApplyFinishedAsync(TaskFinished message, bool waitForOutput = true) => _events.ApplyFinishedAsync(message, waitForOutput);

    public IReadOnlyList<PendingTask> ApplyGaveUp(Guid jobId, Guid taskId, string reason) => _events.ApplyGaveUp(jobId, taskId, reason);

    public IReadOnlyList<Guid> MarkWorkerLost(string workerId, string reason) => _events.MarkWorkerLost(workerId, reason);

    public IReadOnlyList<PendingTask> FailTasksOfLostWorker(string workerId) => _events.FailTasksOfLostWorker(workerId);

    public void RequeueAllRunning(string reason) => _events.RequeueAllRunning(reason);

    /// <summary>The retries due now; none without reading the store while the earliest known due time is later (see RetrySchedule).</summary>
    public IReadOnlyList<PendingTask> DueRetries(int limit) => _retries.DueRetries(limit, _writer.Now(), _backend.Shared, _queries.EarliestRetryDue);

    public void MarkRetryPublished(Guid taskId, int dispatch) => _retries.MarkPublished(taskId, dispatch);

    public IReadOnlyList<PendingTask> TasksToPublish(bool allUnfinished) => _queries.TasksToPublish(allUnfinished);

    public Job? GetJob(Guid jobId, bool withTasks, TaskPage? page = null) => _queries.GetJob(jobId, withTasks, page);

    public IReadOnlyList<Guid> JobIdsStartingWith(string prefix, int limit) => _queries.JobIdsStartingWith(prefix, limit);

    public TaskCounts TaskCounts(Guid jobId) => _queries.TaskCounts(jobId);

    public IReadOnlySet<Guid> Unpublished(IReadOnlyList<Guid> taskIds) => _queries.Unpublished(taskIds);

    public (IReadOnlyList<Job> Jobs, string NextPageToken) ListJobs(TaskState state, string? pool, int pageSize, long? beforeSeq, IReadOnlyDictionary<string, string>? labels = null, string? submittedBy = null, string? search = null) =>
        _queries.ListJobs(state, pool, pageSize, beforeSeq, labels, submittedBy, search);

    public IReadOnlyList<OutputChunk> ReadOutput(Guid jobId, long afterOffset, int limit) => _queries.ReadOutput(jobId, afterOffset, limit);

    // On the writer's connection, whose pages are always current: a watcher wakes at every change of its job.
    public Task<(Job Job, IReadOnlyList<OutputChunk> Chunks)?> ReadProgressAsync(Guid jobId, long afterOffset, int limit) =>
        _writer.ReadGroupedAsync(statements => JobQueries.ReadProgress(statements, jobId, afterOffset, limit));

    public (Guid JobId, bool Accepted)? FindByIdempotencyKey(string key) => _queries.FindByIdempotencyKey(key);

    public IReadOnlyList<string> WorkersWithRunningAttempts() => _queries.WorkersWithRunningAttempts();

    public IReadOnlyDictionary<string, (long Queued, long Running)> PoolCounts() => _queries.PoolCounts();

    public void RecordHistory(DateTimeOffset at, IReadOnlyList<HistoryPoint> points, DateTimeOffset? keepSince, bool addEnded = false) => _writer.Write(() =>
    {
        foreach (var point in points)
        {
            _writer.Execute(
                addEnded && point.Pool.Length == 0
                    ? "INSERT INTO history(at, pool, queued, running, succeeded, failed) VALUES(@at, @pool, @queued, @running, @succeeded, @failed) ON CONFLICT(at, pool) DO UPDATE SET succeeded = history.succeeded + excluded.succeeded, failed = history.failed + excluded.failed"
                    : "INSERT INTO history(at, pool, queued, running, succeeded, failed) VALUES(@at, @pool, @queued, @running, @succeeded, @failed) ON CONFLICT(at, pool) DO UPDATE SET queued = excluded.queued, running = excluded.running, succeeded = excluded.succeeded, failed = excluded.failed",
                ("@at", at.ToUnixTimeMilliseconds()), ("@pool", point.Pool), ("@queued", point.Queued), ("@running", point.Running),
                ("@succeeded", point.Succeeded), ("@failed", point.Failed));
        }

        if (keepSince is { } keep)
        {
            _writer.Execute("DELETE FROM history WHERE at < @keep", ("@keep", keep.ToUnixTimeMilliseconds()));
        }
    });

    public IReadOnlyList<HistoryPoint> ReadHistory(DateTimeOffset since) => _queries.ReadHistory(since);

    public IReadOnlyList<PendingTask> SetLimit(string key, int? max) => _writer.Write(() =>
    {
        if (max is { } limit)
        {
            _writer.Execute("INSERT INTO limits(key, max) VALUES(@key, @max) ON CONFLICT(key) DO UPDATE SET max = excluded.max", ("@key", key), ("@max", limit));
        }
        else
        {
            _writer.Execute("DELETE FROM limits WHERE key = @key", ("@key", key));
        }

        return _held.ReleaseKey(key);
    });

    public IReadOnlyList<ConcurrencyLimit> Limits() => _writer.Read(connection =>
    {
        using var query = connection.CreateCommand();
        query.CommandText = $"""
            SELECT l.key, l.max,
                (SELECT COUNT(*) FROM jobs j JOIN tasks t ON t.job_id = j.id WHERE j.concurrency_key = l.key AND j.state IN ({Sql.Unfinished}) AND t.held = 0 AND t.state IN ({Sql.Unfinished})),
                (SELECT COUNT(*) FROM jobs j JOIN tasks t ON t.job_id = j.id WHERE j.concurrency_key = l.key AND j.state IN ({Sql.Unfinished}) AND t.held = 1 AND t.state = {Sql.Queued})
            FROM limits l ORDER BY l.key
            """;
        using var reader = query.ExecuteReader();
        var limits = new List<ConcurrencyLimit>();
        while (reader.Read())
        {
            limits.Add(new ConcurrencyLimit { Key = reader.GetString(0), Max = reader.GetInt32(1), Holding = reader.GetInt32(2), Waiting = reader.GetInt32(3) });
        }

        return limits;
    });

    public string IntegrityCheck() => _queries.IntegrityCheck();
}

/// <summary>A second job with an idempotency key that already has one (the caller returns that job instead).</summary>
/// <summary>A worker as one master heard it, shared through the store with the others (times in Unix milliseconds).</summary>
internal sealed record SharedWorker(string WorkerId, byte[] Registration, long RegisteredAt, long LastHeartbeat, int Running, bool Draining);

internal sealed class DuplicateIdempotencyKeyException(string key) : Exception($"idempotency key {key} is taken");

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class LabelsJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>A job names a job to run after that does not exist, or one it needed to succeed already did not.</summary>
internal sealed class DependencyException(string message) : Exception(message);
