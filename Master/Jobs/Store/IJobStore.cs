using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// Everything the master asks of its job store: what a second implementation (PostgreSQL, for more than one
/// master) has to fill. States cross it as the API's <see cref="TaskState"/>; how they are stored is the store's.
/// Every event method is idempotent and applies its event whole or not at all.
/// </summary>
internal interface IJobStore
{
    /// <summary>Jobs queued or running (what MAX_CONCURRENT_JOBS bounds).</summary>
    int ActiveJobs { get; }

    // Several masters on one store (PostgreSQL); with SQLite, one master: every lease is its own, nothing is shared.

    /// <summary>Other masters may share this store.</summary>
    bool Shared { get; }

    /// <summary>This master process's id in the store.</summary>
    string Instance { get; }

    /// <summary>Takes or renews the named lease for <paramref name="ttl"/> (and this master's own liveness); true while this master holds it.</summary>
    bool HoldLease(string name, TimeSpan ttl);

    /// <summary>Never-published tasks of jobs whose master is gone (none in an unshared store).</summary>
    IReadOnlyList<PendingTask> TasksOfGoneMasters();

    /// <summary>Stores the workers this master heard from and returns every worker heard by any master since <paramref name="since"/>.</summary>
    IReadOnlyList<SharedWorker> ExchangeWorkers(IReadOnlyList<SharedWorker> heard, DateTimeOffset since);

    // Admission and the job's own life.
    /// <summary>The job as stored (Queued, not yet published), or null when <paramref name="activeLimit"/> jobs are already active.</summary>
    Task<Job?> CreateJobAsync(Guid jobId, string pool, IReadOnlyList<(Guid TaskId, TaskSpec Spec)> tasks, string? idempotencyKey = null,
        IReadOnlyDictionary<string, string>? labels = null, int maxParallel = 0, int maxErrors = 0, int activeLimit = int.MaxValue, string? submittedBy = null,
        DateTimeOffset? notBefore = null, string? concurrencyKey = null, IReadOnlyList<Guid>? after = null, AfterCondition afterCondition = AfterCondition.Unspecified);

    /// <summary>
    /// The broker confirmed the job's tasks — all of them not held back, or only <paramref name="only"/> when the rest
    /// are still to be published (a big job's first window): it becomes visible (and its idempotency key answers with it).
    /// </summary>
    Task MarkPublishedAsync(Guid jobId, IReadOnlyList<Guid>? only = null);

    void DeleteUnpublishedJob(Guid jobId);

    /// <summary>
    /// Cancels the job, recording <paramref name="canceledBy"/> (the first to cancel), and releases in the same write
    /// what its end lets go (the caller publishes them); null when there is no such job.
    /// </summary>
    CanceledJob? CancelJob(Guid jobId, string? canceledBy = null);

    int DeleteFinishedBefore(DateTimeOffset before, int batch);

    // What workers and the broker report.
    Task<bool> ApplyStartedAsync(TaskStarted message);

    Task ApplyOutputAsync(TaskOutput message, bool waitForAttempt = true);

    Task<IReadOnlyList<PendingTask>> ApplyFinishedAsync(TaskFinished message, bool waitForOutput = true);

    IReadOnlyList<PendingTask> ApplyGaveUp(Guid jobId, Guid taskId, string reason);

    IReadOnlyList<Guid> MarkWorkerLost(string workerId, string reason);

    IReadOnlyList<PendingTask> FailTasksOfLostWorker(string workerId);

    void RequeueAllRunning(string reason);

    // The outbox: what still has to reach the broker.
    IReadOnlyList<PendingTask> TasksToPublish(bool allUnfinished);

    void MarkTasksPublished(IEnumerable<Guid> taskIds);

    IReadOnlyList<PendingTask> DueRetries(int limit);

    void MarkRetryPublished(Guid taskId, int dispatch);

    // Reads.
    /// <summary>The job; with its tasks (a page of them when <paramref name="page"/> is given).</summary>
    Job? GetJob(Guid jobId, bool withTasks, TaskPage? page = null);

    /// <summary>How many of the job's tasks are in each state.</summary>
    TaskCounts TaskCounts(Guid jobId);

    /// <summary>Which of these tasks still wait to be published: queued, not held, never confirmed (none of a canceled job).</summary>
    IReadOnlySet<Guid> Unpublished(IReadOnlyList<Guid> taskIds);

    /// <summary>Up to <paramref name="limit"/> job ids that start with <paramref name="prefix"/> (lower-case), in order.</summary>
    IReadOnlyList<Guid> JobIdsStartingWith(string prefix, int limit);

    (IReadOnlyList<Job> Jobs, string NextPageToken) ListJobs(TaskState state, string? pool, int pageSize, long? beforeSeq, IReadOnlyDictionary<string, string>? labels = null, string? submittedBy = null, string? search = null);

    IReadOnlyList<OutputChunk> ReadOutput(Guid jobId, long afterOffset, int limit);

    /// <summary>The job (with its tasks once it has ended) and its output after the offset, read from one snapshot; null when there is no such job.</summary>
    Task<(Job Job, IReadOnlyList<OutputChunk> Chunks)?> ReadProgressAsync(Guid jobId, long afterOffset, int limit);

    (Guid JobId, bool Accepted)? FindByIdempotencyKey(string key);

    IReadOnlyList<string> WorkersWithRunningAttempts();

    IReadOnlyDictionary<string, (long Queued, long Running)> PoolCounts();

    // Concurrency keys.

    /// <summary>Sets the key's limit (null removes it) and releases what the change lets go (the caller publishes them).</summary>
    IReadOnlyList<PendingTask> SetLimit(string key, int? max);

    /// <summary>Every key with a limit, with its tasks holding and waiting now.</summary>
    IReadOnlyList<ConcurrencyLimit> Limits();

    // The dashboard's history.

    /// <summary>
    /// Stores one interval's figures (pool "" carries the tasks that ended; with <paramref name="addEnded"/> they are
    /// added to what other masters stored for the interval) and forgets those older than <paramref name="keepSince"/>.
    /// </summary>
    void RecordHistory(DateTimeOffset at, IReadOnlyList<HistoryPoint> points, DateTimeOffset? keepSince, bool addEnded = false);

    /// <summary>The stored intervals since <paramref name="since"/>, oldest first.</summary>
    IReadOnlyList<HistoryPoint> ReadHistory(DateTimeOffset since);

    /// <summary>The recurring jobs kept in this store.</summary>
    Schedules.IScheduleStore Schedules { get; }

    /// <summary>"ok", or what the store's own check found wrong.</summary>
    string IntegrityCheck();
}
