using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using System.Runtime.ExceptionServices;
using System.Data.Common;
using Microsoft.Extensions.Logging;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// The store's one writing connection and what every write shares: the lock and transaction around it, the
/// clock, the count of active jobs, a job's derived state, attempt numbering and "this attempt is lost".
/// Every change to the store is made inside <see cref="Write{T}"/>, so an event is applied whole or not at all.
/// A write that finds the disk full throws <see cref="StoreFullException"/> and leaves nothing behind; the writer
/// logs one line when the store fills and one when a write succeeds again.
/// </summary>
internal sealed partial class StoreWriter(DbConnection connection, StoreBackend backend, TimeProvider time, int activeJobs, ILogger logger) : IDisposable
{
    /// <summary>The writing connection; replaced when a database server dropped it (PostgreSQL restarted, a network cut).</summary>
    private DbConnection _connection = connection;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DbCommand> _prepared = new(StringComparer.Ordinal);
    private Statements? _kept;
    private readonly List<IGroupedWrite> _writes = [];
    private readonly List<IGroupedWrite> _reads = [];
    private DbTransaction? _transaction;
    private int _activeJobs = activeJobs;
    private const int MaxGroup = 256;
    private readonly List<Action> _afterCommit = [];
    private readonly System.Collections.Concurrent.BlockingCollection<IGroupedWrite> _queue = [];
    private Thread? _groupThread;
    private int _waiting;
    private DateTimeOffset? _fullSince;

    /// <summary>Jobs queued or running (what MAX_CONCURRENT_JOBS bounds), as this master last knew them.</summary>
    public int ActiveJobs => Volatile.Read(ref _activeJobs);

    /// <summary>The transactions begun (a driver may hand out the same transaction object again), and the one the count was read in.</summary>
    private long _transactions;
    private long _countedIn;

    /// <summary>
    /// Jobs queued or running now, inside a write (admission). Where other masters admit and end jobs too, the count is
    /// read from the store under its write lock, once per transaction (only a transaction that admits pays for it).
    /// </summary>
    public int ActiveJobsNow()
    {
        if (backend.Shared && _transaction is not null && _countedIn != _transactions)
        {
            _countedIn = _transactions;
            _activeJobs = (int)StoreSql.Long(Scalar($"SELECT COUNT(*) FROM jobs WHERE state IN ({Sql.Unfinished})"));
        }

        return _activeJobs;
    }

    /// <summary>
    /// Runs <paramref name="work"/> in a transaction of its own under the write lock and returns once it is committed;
    /// the exception it threw otherwise. It goes before the next group of events (<see cref="GroupLoop"/> lets a
    /// waiting caller in between groups), so a submission never waits behind a stream of events.
    /// </summary>
    public T Write<T>(Func<T> work)
    {
        if (Thread.CurrentThread == _groupThread)
        {
            throw new InvalidOperationException("a store write inside another would wait for itself");
        }

        var write = new GroupedWrite<T>(work);
        Interlocked.Increment(ref _waiting);
        lock (_lock)
        {
            Interlocked.Decrement(ref _waiting);
            RunGroup([write]);
        }

        return write.Result;
    }

    /// <summary>
    /// Runs <paramref name="read"/> on the writing connection between transactions. Its page cache is always current,
    /// whereas any other connection finds its own stale after each commit and reads again every page it touches: for
    /// a small read that comes often (a watcher's wake-up) this is a fraction of the cost. It holds writes up while it
    /// runs, so only small reads belong here.
    /// </summary>
    public T Read<T>(Func<DbConnection, T> read)
    {
        if (Thread.CurrentThread == _groupThread)
        {
            throw new InvalidOperationException("a store read inside a write would wait for itself");
        }

        Interlocked.Increment(ref _waiting);
        lock (_lock)
        {
            Interlocked.Decrement(ref _waiting);
            return read(_connection);
        }
    }

    /// <summary>
    /// A small read that comes often (a watcher's wake-up), run by the writer's own thread between its transactions,
    /// after the writes queued with it have committed, with the writer's kept commands (prepared once). Nothing then
    /// waits for a lock or spins to hand it over: in the pipeline benchmark the writer spent a quarter of its time
    /// yielding to readers that took the connection from it.
    /// </summary>
    public Task<T> ReadGroupedAsync<T>(Func<Statements, T> read) =>
        Enqueue(new GroupedWrite<T>(() => read(_kept ??= Statements.Kept(sql => Prepared(sql))), isRead: true)).Task;

    public void Write(Action work) => Write(() =>
    {
        work();
        return 0;
    });

    /// <summary>
    /// Runs <paramref name="work"/> in a transaction shared with the other writes queued meanwhile (group commit): one
    /// commit, and one write to the log, for many events. Each write keeps its own all-or-nothing: one that throws is
    /// undone alone (the group runs again with a savepoint around each write) and its task fails; the others commit.
    /// Completes once committed.
    /// </summary>
    public Task<T> WriteGroupedAsync<T>(Func<T> work) => Enqueue(new GroupedWrite<T>(work)).Task;

    private GroupedWrite<T> Enqueue<T>(GroupedWrite<T> write)
    {
        if (_groupThread is null)
        {
            lock (_queue)
            {
                if (_groupThread is null)
                {
                    // A thread of its own: a group of writes holds it for a while, and its waits are short.
                    _groupThread = new Thread(GroupLoop) { IsBackground = true, Name = "distexec store writer" };
                    _groupThread.Start();
                }
            }
        }

        try
        {
            _queue.Add(write);
        }
        catch (InvalidOperationException)
        {
            throw new ObjectDisposedException(nameof(StoreWriter));
        }

        return write;
    }

    private void GroupLoop()
    {
        var batch = new List<IGroupedWrite>(MaxGroup);
        foreach (var first in _queue.GetConsumingEnumerable())
        {
            batch.Add(first);
            while (batch.Count < MaxGroup && _queue.TryTake(out var next))
            {
                batch.Add(next);
            }

            lock (_lock)
            {
                // The writes in one transaction, then the reads queued with them, outside it: a read never sees what
                // a write of its group might still undo.
                _writes.Clear();
                _reads.Clear();
                foreach (var item in batch)
                {
                    (item.IsRead ? _reads : _writes).Add(item);
                }

                if (_writes.Count > 0)
                {
                    RunGroup(_writes);
                }

                foreach (var read in _reads)
                {
                    try
                    {
                        read.Run();
                        read.Complete();
                    }
                    catch (Exception ex)
                    {
                        read.Fail(ex);
                    }
                }
            }

            batch.Clear();

            // Callers of Write waiting for the lock go first (the lock is not fair: this loop would take it again).
            var spin = new SpinWait();
            while (Volatile.Read(ref _waiting) > 0)
            {
                spin.SpinOnce();
            }
        }
    }

    /// <summary>The writes in one transaction, without savepoints unless one of them fails; under the write lock.</summary>
    private void RunGroup(IReadOnlyList<IGroupedWrite> writes)
    {
        // A savepoint is not free: PostgreSQL takes two round trips to the server per write, and SQLite copies every page
        // a write changes into a statement journal (a temp file once past 64 KiB: in the many-jobs benchmark that was
        // three write(2) calls for each one to the WAL). So a group runs first without them; only if one of its writes
        // fails is it rolled back and run again with a savepoint around each write.
        var optimistic = writes.Count > 1;
        if (!RunGroup(writes, savepoints: !optimistic))
        {
            RunGroup(writes, savepoints: true);
        }
    }

    /// <summary>The group in one transaction; false (nothing kept, nobody told) when a write failed without a savepoint to undo it alone.</summary>
    private bool RunGroup(IReadOnlyList<IGroupedWrite> writes, bool savepoints)
    {
        if (_connection.State != System.Data.ConnectionState.Open)
        {
            Reconnect();
        }

        var tx = _connection.BeginTransaction();
        _transaction = tx;
        _transactions++;
        var active = _activeJobs;
        var done = new List<IGroupedWrite>(writes.Count);

        // A write undone alone hears of it only once its group has committed: what made it fail (another write of
        // the group taking the same idempotency key) is then there for it to read.
        var undone = new List<(IGroupedWrite Write, Exception Error)>();
        try
        {
            backend.BeginWrite(_connection, tx);

            foreach (var write in writes)
            {
                if (writes.Count == 1)
                {
                    write.Run();
                    done.Add(write);
                    continue;
                }

                if (!savepoints)
                {
                    try
                    {
                        write.Run();
                    }
                    catch (Exception ex) when (!backend.IsFull(ex))
                    {
                        _activeJobs = active;
                        _countedIn = 0;
                        Rollback(tx);
                        return false;
                    }

                    done.Add(write);
                    continue;
                }

                var (writeActive, actions) = (_activeJobs, _afterCommit.Count);
                tx.Save("write");
                try
                {
                    write.Run();
                    tx.Release("write");
                    done.Add(write);
                }
                catch (Exception ex) when (!backend.IsFull(ex))
                {
                    tx.Rollback("write");
                    tx.Release("write");
                    _activeJobs = writeActive;
                    _countedIn = 0;
                    _afterCommit.RemoveRange(actions, _afterCommit.Count - actions);
                    undone.Add((write, ex));
                }
            }

            tx.Commit();
            if (_fullSince is { } since)
            {
                _fullSince = null;
                LogWritable(backend.Location, time.GetUtcNow() - since);
            }

            foreach (var action in _afterCommit)
            {
                action();
            }

            foreach (var write in done)
            {
                write.Complete();
            }

            foreach (var (write, error) in undone)
            {
                write.Fail(error);
            }

            return true;
        }
        catch (Exception ex)
        {
            // Nothing of these writes stays: neither their rows nor their change to the count of active jobs.
            _activeJobs = active;
            _countedIn = 0;
            Rollback(tx);
            var failure = backend.IsFull(ex) ? Full(ex) : ex;
            foreach (var write in writes)
            {
                write.Fail(failure);
            }

            return true;
        }
        finally
        {
            _transaction = null;
            _afterCommit.Clear();
            tx.Dispose();
        }
    }

    private long _fullFailures;

    /// <summary>
    /// Writes refused for a full disk so far. Part of a waiting event's progress: while the store refuses writes, what an
    /// event waits for (its attempt's output batches) cannot be stored, so the wait must not run out meanwhile — else a
    /// TaskFinished that gave up the moment space came back would end its task without the batches about to land.
    /// </summary>
    public long FullFailures => Interlocked.Read(ref _fullFailures);

    private StoreFullException Full(Exception ex)
    {
        Interlocked.Increment(ref _fullFailures);
        var free = backend.FreeBytes();
        if (_fullSince is null)
        {
            _fullSince = time.GetUtcNow();
            LogFull(backend.Location, free);
        }

        return new StoreFullException(
            $"the master's store is full ({free / (1024 * 1024)} MiB free on its volume); it takes no new work until space is freed", ex);
    }

    /// <summary>
    /// Runs <paramref name="action"/> once the current write has committed, and never if it fails: what a write
    /// counts (metrics) is counted once however often a full disk makes the event be tried again.
    /// </summary>
    public void AfterCommit(Action action) => _afterCommit.Add(action);

    /// <summary>Rolls back what is left of a failed write (the database may have rolled it back itself on a full disk).</summary>
    private static void Rollback(DbTransaction tx)
    {
        try
        {
            tx.Rollback();
        }
        catch (Exception ex) when (ex is DbException or InvalidOperationException)
        {
            // Already rolled back.
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The job store {Path} is full ({Free} bytes free): submissions are refused and workers' events wait in the broker until space is freed")]
    private partial void LogFull(string path, long free);

    [LoggerMessage(Level = LogLevel.Information, Message = "The job store {Path} is writable again after {Elapsed}; waiting events are being applied")]
    private partial void LogWritable(string path, TimeSpan elapsed);

    public long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();

    public DateTimeOffset UtcNow() => time.GetUtcNow();

    public int Execute(string sql, params (string Name, object? Value)[] parameters) => Prepared(sql, parameters).ExecuteNonQuery();

    public object? Scalar(string sql, params (string Name, object? Value)[] parameters) =>
        Prepared(sql, parameters).ExecuteScalar() is var result && result is DBNull ? null : result;

    /// <summary>
    /// The writer's command for this SQL text, prepared once and kept (the SQL texts are the store's own constants,
    /// a few dozen): SQLite then parses and plans each statement once instead of on every event. The caller may add
    /// parameters of its own but must not dispose it. Where the backend prepares by text on the server instead
    /// (PostgreSQL), each call gets a new command: a kept one would run with the parameters it was first prepared with.
    /// </summary>
    public DbCommand Prepared(string sql, params (string Name, object? Value)[] parameters)
    {
        if (!_prepared.TryGetValue(sql, out var command) || !backend.ReusesCommands)
        {
            command?.Dispose();
            _prepared[sql] = command = _connection.CreateCommand();
            command.CommandText = sql;
        }

        // A kept command remembers the transaction it last ran in; each use runs in the current one.
        command.Transaction = _transaction;
        command.Parameters.Clear();
        foreach (var (name, value) in parameters)
        {
            command.Bind(name, value ?? DBNull.Value);
        }

        return command;
    }

    /// <summary>The rows of a query, each read by <paramref name="read"/>.</summary>
    public List<T> Rows<T>(string sql, Func<DbDataReader, T> read, params (string Name, object? Value)[] parameters) =>
        StoreSql.Rows(Prepared(sql, parameters), read);

    /// <summary>A new job was stored (it counts as active until it ends).</summary>
    public void JobAdded() => _activeJobs++;

    /// <summary>An unfinished job was removed.</summary>
    public void JobRemoved() => _activeJobs--;

    /// <summary>The running attempts <paramref name="where"/> selects end as lost with <paramref name="reason"/>.</summary>
    public int LoseAttempts(string where, string reason, params (string Name, object? Value)[] parameters) =>
        Execute($"UPDATE attempts SET state = {Sql.Lost}, finished_at = @now, error = @reason, failure = @lost WHERE state = {Sql.Running} AND {where}",
            [("@now", Now()), ("@reason", reason), ("@lost", (int)Contracts.Messages.FailureKind.Lost), .. parameters]);

    /// <summary>A new running attempt, the task's <paramref name="number"/>th.</summary>
    /// <summary>
    /// Records an attempt running, or with <paramref name="end"/> already ended (a TaskFinished that records its attempt:
    /// one statement where an insert and an update of the same row were two).
    /// </summary>
    public void InsertAttempt(Guid jobId, Guid taskId, Guid attemptId, string workerId, DateTimeOffset startedAt, long number, string cause, int dispatch, AttemptEnd? end = null)
    {
        if (end is null)
        {
            Execute($"""
                INSERT INTO attempts(id, task_id, job_id, number, worker_id, state, started_at, cause, dispatch)
                VALUES(@id, @task, @job, @number, @worker, {Sql.Running}, @started, @cause, @dispatch)
                """,
                ("@id", StoreSql.Id(attemptId)), ("@task", StoreSql.Id(taskId)), ("@job", StoreSql.Id(jobId)), ("@number", number),
                ("@worker", workerId), ("@started", startedAt.ToUnixTimeMilliseconds()), ("@cause", cause), ("@dispatch", dispatch));
            return;
        }

        Execute("""
            INSERT INTO attempts(id, task_id, job_id, number, worker_id, state, started_at, cause, dispatch, finished_at, exit_code, signal, error, http_status, failure)
            VALUES(@id, @task, @job, @number, @worker, @state, @started, @cause, @dispatch, @finished, @exit, @signal, @error, @http, @failure)
            """,
            ("@id", StoreSql.Id(attemptId)), ("@task", StoreSql.Id(taskId)), ("@job", StoreSql.Id(jobId)), ("@number", number),
            ("@worker", workerId), ("@state", StoredStates.Column(end.State)), ("@started", startedAt.ToUnixTimeMilliseconds()), ("@cause", cause),
            ("@dispatch", dispatch), ("@finished", end.FinishedAt.ToUnixTimeMilliseconds()), ("@exit", end.ExitCode), ("@signal", end.Signal),
            ("@error", end.Error), ("@http", end.HttpStatus), ("@failure", end.Failure));
    }

    /// <summary>How an attempt ended, as its TaskFinished says.</summary>
    internal sealed record AttemptEnd(TaskState State, DateTimeOffset FinishedAt, int? ExitCode, int? Signal, string? Error, int? HttpStatus, int Failure);

    /// <summary>
    /// The task as an event handler needs it, with what the store holds of one of its attempts (null: not recorded),
    /// in one read; null when the store has no such task.
    /// </summary>
    public (TaskRow Task, AttemptSeen? Attempt)? ReadTask(Guid taskId, Guid attemptId)
    {
        var rows = Rows($"""
            SELECT {TaskColumns},
                CASE WHEN a.id IS NULL THEN NULL WHEN a.finished_at IS NULL THEN 0 ELSE 1 END, CASE WHEN a.state = {Sql.Lost} THEN 1 ELSE 0 END
            FROM tasks t JOIN jobs j ON j.id = t.job_id LEFT JOIN attempts a ON a.id = @attempt WHERE t.id = @id
            """,
            reader => (TaskRowOf(reader), reader.IsDBNull(5) ? null : new AttemptSeen(Finished: reader.GetInt32(5) == 1, Lost: reader.GetInt32(6) == 1)),
            ("@id", StoreSql.Id(taskId)), ("@attempt", StoreSql.Id(attemptId)));
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>The task as an event handler needs it, or null when the store has no such task.</summary>
    public TaskRow? ReadTask(Guid taskId)
    {
        var rows = Rows($"SELECT {TaskColumns} FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE t.id = @id", TaskRowOf, ("@id", StoreSql.Id(taskId)));
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>What <see cref="TaskRow"/> holds, first in each read of a task (<see cref="TaskRowOf"/> reads it).</summary>
    private const string TaskColumns = "t.state, t.current_attempt, j.cancel_requested, t.dispatch, t.next_cause";

    private static TaskRow TaskRowOf(DbDataReader reader) =>
        new(StoredStates.FromColumn(reader.GetInt32(0)), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt32(2) == 1,
            reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetString(4));

    public JobRow RefreshJobState(Guid jobId) => RefreshJobState(StoreSql.Id(jobId));

    /// <summary>A job's state (as stored once refreshed) and the limits <see cref="HeldTasks"/> applies.</summary>
    internal sealed record JobRow(TaskState State, long MaxParallel, long MaxErrors, string Pool, string? Key);

    /// <summary>Which task states a job has, each an index seek on tasks(job_id, state): not a count of its every task.</summary>
    private static readonly string PresentStates =
        "SELECT " + string.Join(", ", Enum.GetValues<StoredState>().Select(s => $"CASE WHEN EXISTS(SELECT 1 FROM tasks WHERE job_id = @job AND state = {(int)s}) THEN 1 ELSE 0 END"));

    /// <summary>
    /// The task states present, then the job's own state, cancel_requested and limits: one statement where there were
    /// three (the limits are what <see cref="HeldTasks"/> reads next, after a task ended).
    /// </summary>
    private static readonly string PresentStatesAndJob =
        PresentStates + ", j.state, j.cancel_requested, j.max_parallel, j.max_errors, j.pool, j.concurrency_key FROM jobs j WHERE j.id = @job";

    /// <summary>
    /// Derives the job's state from its tasks' (see <see cref="TaskRules.DeriveJobState"/>) and stores it when it changed.
    /// The rule depends only on which states its tasks are in, not how many are in each, so that is what is read:
    /// a seek per state instead of counting all of a big batch's tasks at every event (a unit test holds the two equal).
    /// </summary>
    /// <returns>The job as it is now stored: its state and its limits.</returns>
    public JobRow RefreshJobState(string jobId)
    {
        var counts = new Dictionary<TaskState, int>();
        var states = Enum.GetValues<StoredState>();
        TaskState previous;
        bool userCanceled;
        JobRow row;
        using (var reader = Prepared(PresentStatesAndJob, ("@job", jobId)).ExecuteReader())
        {
            if (!reader.Read())
            {
                throw new InvalidOperationException($"job {jobId} is not in the store");
            }

            for (var i = 0; i < states.Length; i++)
            {
                if (reader.GetInt64(i) == 1)
                {
                    counts[states[i].ToApi()] = 1;
                }
            }

            (previous, userCanceled) = (StoredStates.FromColumn(reader.GetInt32(states.Length)), reader.GetInt32(states.Length + 1) == 1);
            var limits = states.Length + 2;
            row = new JobRow(previous, reader.GetInt64(limits), reader.GetInt64(limits + 1), reader.GetString(limits + 2), reader.IsDBNull(limits + 3) ? null : reader.GetString(limits + 3));
        }

        var next = TaskRules.DeriveJobState(counts, userCanceled);
        if (previous == next)
        {
            return row;
        }

        var terminal = TaskRules.IsTerminal(next);
        Execute("UPDATE jobs SET state = @state, finished_at = @finished WHERE id = @job",
            ("@state", StoredStates.Column(next)), ("@finished", terminal ? Now() : null), ("@job", jobId));
        if (terminal && !TaskRules.IsTerminal(previous))
        {
            _activeJobs--;
        }
        else if (!terminal && TaskRules.IsTerminal(previous))
        {
            _activeJobs++;
        }

        return row with { State = next };
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _groupThread?.Join(TimeSpan.FromSeconds(10));
        foreach (var command in _prepared.Values)
        {
            command.Dispose();
        }

        _connection.Dispose();
    }

    /// <summary>
    /// A new writing connection in place of one the server dropped; its kept commands go with the old one. Throws
    /// while the server is still away: the write fails, and the next one tries again.
    /// </summary>
    private void Reconnect()
    {
        foreach (var command in _prepared.Values)
        {
            command.Dispose();
        }

        _prepared.Clear();
        _kept = null;
        _connection.Dispose();
        _connection = backend.Open();
        LogReconnected(backend.Location);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The job store {Location} dropped the master's writing connection; a new one is open")]
    private partial void LogReconnected(string location);
}

/// <summary>What an event handler reads of a task before it changes it.</summary>
internal sealed record TaskRow(TaskState State, string? CurrentAttempt, bool CancelRequested, int Dispatch, string? NextCause);

/// <summary>An attempt as the store holds it: ended (or not), and whether the master ended it as lost.</summary>
internal sealed record AttemptSeen(bool Finished, bool Lost);

/// <summary>A write waiting for its group's transaction.</summary>
internal interface IGroupedWrite
{
    /// <summary>A read: run after the group's transaction, outside it.</summary>
    bool IsRead { get; }

    void Run();

    void Complete();

    void Fail(Exception exception);
}

internal sealed class GroupedWrite<T>(Func<T> work, bool isRead = false) : IGroupedWrite
{
    public bool IsRead => isRead;

    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private T _result = default!;
    private ExceptionDispatchInfo? _failure;

    public Task<T> Task => _completion.Task;

    /// <summary>The committed result, or the write's exception rethrown as it was thrown.</summary>
    public T Result
    {
        get
        {
            _failure?.Throw();
            return _result;
        }
    }

    public void Run() => _result = work();

    public void Complete() => _completion.TrySetResult(_result);

    public void Fail(Exception exception)
    {
        _failure ??= ExceptionDispatchInfo.Capture(exception);
        _completion.TrySetException(exception);
    }
}
