using System.Data.Common;
using static DistributedExecutor.Master.Jobs.Store.StoreSql;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// The job store's schema, as numbered migrations recorded in SQLite's <c>PRAGMA user_version</c>. Each runs once,
/// in order, in one transaction with its version bump. A database written by a newer master (a higher version
/// than this code knows) is refused with one line rather than read wrongly.
/// </summary>
internal static class StoreMigrations
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS jobs(
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            pool TEXT NOT NULL,
            state INTEGER NOT NULL,
            task_count INTEGER NOT NULL,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            accepted INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            finished_at INTEGER);
        CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
        CREATE TABLE IF NOT EXISTS tasks(
            id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            state INTEGER NOT NULL,
            spec BLOB NOT NULL,
            published INTEGER NOT NULL DEFAULT 0,
            current_attempt TEXT,
            final_attempt TEXT,
            exit_code INTEGER,
            signal INTEGER,
            error TEXT,
            worker_id TEXT,
            truncated INTEGER NOT NULL DEFAULT 0,
            started_at INTEGER,
            finished_at INTEGER,
            http_status INTEGER);
        CREATE INDEX IF NOT EXISTS tasks_job ON tasks(job_id, state);
        CREATE INDEX IF NOT EXISTS tasks_state ON tasks(state);
        CREATE TABLE IF NOT EXISTS attempts(
            id TEXT PRIMARY KEY,
            task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            job_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            worker_id TEXT NOT NULL,
            state INTEGER NOT NULL,
            started_at INTEGER NOT NULL,
            finished_at INTEGER,
            exit_code INTEGER,
            signal INTEGER,
            error TEXT,
            http_status INTEGER);
        CREATE INDEX IF NOT EXISTS attempts_task ON attempts(task_id);
        CREATE INDEX IF NOT EXISTS attempts_running ON attempts(state, worker_id);
        CREATE TABLE IF NOT EXISTS output(
            offset INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            attempt_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            part INTEGER NOT NULL,
            stream INTEGER NOT NULL,
            data BLOB NOT NULL,
            UNIQUE(attempt_id, seq, part));
        CREATE INDEX IF NOT EXISTS output_job ON output(job_id, offset);
        """;
    /// <summary>The migrations, by the version each brings the store to (index + 1).</summary>
    private static readonly Action<DbConnection>[] Steps =
    [
        // 1: the schema as of this numbering. Stores from before it (user_version 0) may hold an older shape,
        // so it creates what is missing and adds the columns later versions added.
        db =>
        {
            Execute(db, Schema);
            AddColumnIfMissing(db, "tasks", "http_status", "INTEGER");
            AddColumnIfMissing(db, "attempts", "http_status", "INTEGER");
            AddColumnIfMissing(db, "jobs", "idempotency_key", "TEXT");
            AddColumnIfMissing(db, "jobs", "labels", "TEXT");
            AddColumnIfMissing(db, "tasks", "dispatch", "INTEGER NOT NULL DEFAULT 1");
            AddColumnIfMissing(db, "tasks", "next_cause", "TEXT");
            AddColumnIfMissing(db, "tasks", "held", "INTEGER NOT NULL DEFAULT 0");
            AddColumnIfMissing(db, "tasks", "target_worker", "TEXT");
            AddColumnIfMissing(db, "jobs", "max_parallel", "INTEGER NOT NULL DEFAULT 0");
            AddColumnIfMissing(db, "jobs", "max_errors", "INTEGER NOT NULL DEFAULT 0");
            AddColumnIfMissing(db, "attempts", "cause", "TEXT");
            AddColumnIfMissing(db, "attempts", "dispatch", "INTEGER NOT NULL DEFAULT 1");
            AddColumnIfMissing(db, "tasks", "failure", "INTEGER NOT NULL DEFAULT 0");
            AddColumnIfMissing(db, "attempts", "failure", "INTEGER NOT NULL DEFAULT 0");
            Execute(db, """
                CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs(idempotency_key) WHERE idempotency_key IS NOT NULL;
                CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
                CREATE TABLE IF NOT EXISTS job_labels(
                    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY(job_id, key));
                CREATE INDEX IF NOT EXISTS job_labels_kv ON job_labels(key, value);
                CREATE TABLE IF NOT EXISTS retries(
                    task_id TEXT PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
                    job_id TEXT NOT NULL,
                    due_at INTEGER NOT NULL,
                    dispatch INTEGER NOT NULL);
                CREATE INDEX IF NOT EXISTS retries_due ON retries(due_at);
                """);
        },

        // 2: who submitted and who canceled each job (named tokens).
        db =>
        {
            AddColumnIfMissing(db, "jobs", "submitted_by", "TEXT");
            AddColumnIfMissing(db, "jobs", "canceled_by", "TEXT");
            Execute(db, "CREATE INDEX IF NOT EXISTS jobs_submitted_by ON jobs(submitted_by, seq) WHERE submitted_by IS NOT NULL");
        },

        // 3: when each output chunk was read on its worker (logs --timestamps, --since).
        db => AddColumnIfMissing(db, "output", "at", "INTEGER"),

        // 4: the dashboard's history, a row per interval and pool (pool '' for the tasks that ended).
        db => Execute(db, """
            CREATE TABLE IF NOT EXISTS history(
                at INTEGER NOT NULL,
                pool TEXT NOT NULL,
                queued INTEGER NOT NULL DEFAULT 0,
                running INTEGER NOT NULL DEFAULT 0,
                succeeded INTEGER NOT NULL DEFAULT 0,
                failed INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY(at, pool));
            """),

        // 5: what a job runs, as a line (its first task's command), and each task's item, for search.
        db =>
        {
            AddColumnIfMissing(db, "jobs", "command", "TEXT");
            AddColumnIfMissing(db, "tasks", "item", "TEXT");
            Execute(db, "CREATE INDEX IF NOT EXISTS tasks_item ON tasks(item, job_id) WHERE item IS NOT NULL");
        },

        // 6: jobs published later (JobSpec.not_before); their tasks wait in the retries schedule meanwhile.
        db => AddColumnIfMissing(db, "jobs", "not_before", "INTEGER"),

        // 7: fleet-wide concurrency keys and their limits.
        db =>
        {
            AddColumnIfMissing(db, "jobs", "concurrency_key", "TEXT");
            Execute(db, """
                CREATE INDEX IF NOT EXISTS jobs_concurrency_key ON jobs(concurrency_key, seq) WHERE concurrency_key IS NOT NULL;
                CREATE TABLE IF NOT EXISTS limits(key TEXT PRIMARY KEY, max INTEGER NOT NULL);
                """);
        },

        // 8: jobs that run after others (dependencies); waiting = 1 until they ended.
        db =>
        {
            AddColumnIfMissing(db, "jobs", "waiting", "INTEGER NOT NULL DEFAULT 0");
            AddColumnIfMissing(db, "jobs", "after_condition", "INTEGER NOT NULL DEFAULT 0");
            Execute(db, """
                CREATE TABLE IF NOT EXISTS job_deps(job_id TEXT NOT NULL, after_id TEXT NOT NULL, PRIMARY KEY(job_id, after_id));
                CREATE INDEX IF NOT EXISTS job_deps_after ON job_deps(after_id);
                """);
        },

        // 9: recurring jobs (schedules) and what each of their ticks did.
        db => Execute(db, """
            CREATE TABLE IF NOT EXISTS schedules(
                name TEXT PRIMARY KEY,
                cron TEXT NOT NULL,
                time_zone TEXT NOT NULL,
                spec BLOB NOT NULL,
                overlap INTEGER NOT NULL,
                missed INTEGER NOT NULL,
                paused INTEGER NOT NULL DEFAULT 0,
                next_fire INTEGER,
                created_by TEXT,
                created_at INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS schedule_fires(
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                schedule TEXT NOT NULL,
                at INTEGER NOT NULL,
                outcome INTEGER NOT NULL,
                job_id TEXT,
                reason TEXT,
                manual INTEGER NOT NULL DEFAULT 0);
            CREATE INDEX IF NOT EXISTS schedule_fires_by_schedule ON schedule_fires(schedule, seq);
            """),

        // 10: a job's attempts and retries by job (a job's record, its removal, a lost worker's fan-out tasks read
        // them by job: without these, each scanned every attempt in the store, a cost that grew with retention).
        db => Execute(db, """
            CREATE INDEX IF NOT EXISTS attempts_job ON attempts(job_id, number);
            CREATE INDEX IF NOT EXISTS retries_job ON retries(job_id);
            CREATE INDEX IF NOT EXISTS tasks_target ON tasks(target_worker) WHERE target_worker IS NOT NULL;
            """),

        // 11: which master stored each job (where several share a store, the one publishing it until it is gone).
        db => AddColumnIfMissing(db, "jobs", "master", "TEXT"),
    ];

    /// <summary>The version this code brings a store to.</summary>
    public static int Latest => Steps.Length;

    /// <summary>Brings the store up to <see cref="Latest"/>; throws <see cref="StoreVersionException"/> for a newer one.</summary>
    public static void Apply(DbConnection db, string path)
    {
        var version = (int)(long)Scalar(db, "PRAGMA user_version")!;
        if (version > Latest)
        {
            throw new StoreVersionException(
                $"the job store {path} has schema version {version}, newer than this master knows ({Latest}): run a master at least as new as the one that wrote it, or start from a backup");
        }

        for (var step = version; step < Latest; step++)
        {
            using var tx = db.BeginTransaction();
            Steps[step](db);
            Execute(db, $"PRAGMA user_version = {step + 1}");
            tx.Commit();
        }
    }

    private static void AddColumnIfMissing(DbConnection db, string table, string column, string type)
    {
        if (Scalar(db, $"SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = '{column}'") is 0L)
        {
            Execute(db, $"ALTER TABLE {table} ADD COLUMN {column} {type}");
        }
    }
}
