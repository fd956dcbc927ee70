using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Consumers;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Master.Options;

namespace DistributedExecutor.Tests.Master;

/// <summary>The store in a SQLite file: the contract, and what only SQLite has (a file's mode, PRAGMA user_version, query plans).</summary>
public sealed class SqliteJobStoreTests : JobStoreContractTests, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distexec-store-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private protected override SqlJobStore Open() =>
        new(new MasterOptions { DatabasePath = Path.Combine(_dir, "master.db") }, TimeProvider.System, new JobSignals());

    [Fact]
    public void Open_NewStore_NumberedToTheLatestMigrationAndReadableByItsOwnerOnly()
    {
        using (var store = Open())
        {
            CreateJob(store);
        }

        var path = Path.Combine(_dir, "master.db");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal((long)StoreMigrations.Latest, Pragma(path, "user_version"));

        // Reopening runs no migration again and keeps the job.
        using var again = Open();
        Assert.NotNull(again.GetJob(_jobId, withTasks: false));
    }

    [Fact]
    public void Open_StoreFromANewerMaster_RefusedWithOneLine()
    {
        var path = Path.Combine(_dir, "master.db");
        using (var store = Open())
        {
            CreateJob(store);
        }

        Pragma(path, $"user_version = {StoreMigrations.Latest + 1}");

        var refused = Assert.Throws<StoreVersionException>(Open);
        Assert.Contains($"has schema version {StoreMigrations.Latest + 1}, newer than this master knows ({StoreMigrations.Latest})", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_StoreFromBeforeTheNumbering_MigratedKeepingItsJobs()
    {
        // A store as an older master left it: version 0, without the columns added since.
        var path = Path.Combine(_dir, "master.db");
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
        {
            db.Open();
            using var create = db.CreateCommand();
            create.CommandText = """
                CREATE TABLE jobs(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, pool TEXT NOT NULL, state INTEGER NOT NULL,
                    task_count INTEGER NOT NULL, cancel_requested INTEGER NOT NULL DEFAULT 0, accepted INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL, finished_at INTEGER);
                INSERT INTO jobs(id, pool, state, task_count, accepted, created_at) VALUES('old-job', 'default', 3, 0, 1, 1);
                """;
            create.ExecuteNonQuery();
        }

        using var store = Open();

        Assert.Equal((long)StoreMigrations.Latest, Pragma(path, "user_version"));
        Assert.Equal(1L, Scalar(path, "SELECT COUNT(*) FROM jobs WHERE id = 'old-job' AND max_parallel = 0 AND idempotency_key IS NULL"));
    }

    [Fact]
    public void Sql_StateAndFailureConstants_MatchTheEnums() =>
        Assert.All(Sql.Values_MatchTheEnums(), pair => Assert.Equal(pair.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), pair.Constant));

    [Fact]
    public void Store_AJobsRecordAndItsRemoval_FoundByIndex_NoTableScanned()
    {
        using (var store = Open())
        {
            CreateJob(store);
        }

        // A scan here costs every row in the store at each read of a finished job (every watcher's last wake-up, every
        // status) and at each removal: it grew with the store, not with the job (migration 10 added what was missing).
        var statements = SqlJobStore.JobRowTables.Select(table => $"DELETE FROM {table} WHERE job_id = 'j'").Append(JobQueries.AttemptsOfJob.Replace("@job", "'j'", StringComparison.Ordinal));
        using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_dir, "master.db")};Pooling=False");
        db.Open();
        Assert.All(statements, sql =>
        {
            using var command = db.CreateCommand();
            command.CommandText = "EXPLAIN QUERY PLAN " + sql;
            using var reader = command.ExecuteReader();
            var plan = new List<string>();
            while (reader.Read())
            {
                plan.Add(reader.GetString(3));
            }

            Assert.DoesNotContain(plan, step => step.StartsWith("SCAN", StringComparison.Ordinal) || step.Contains("TEMP B-TREE", StringComparison.Ordinal));
        });
    }

    private static object? Pragma(string path, string pragma) => Scalar(path, $"PRAGMA {pragma}");

    private static object? Scalar(string path, string sql)
    {
        using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False");
        db.Open();
        using var command = db.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    [Fact]
    public async Task GroupedWrite_UndoneAlone_HearsOfItOnlyOnceItsGroupCommitted()
    {
        // Two submissions with one idempotency key in one group: the loser, told of the conflict, reads the winner's
        // job by the key at once, so the winner must be committed by then.
        var path = Path.Combine(_dir, "writer.db");
        var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}");
        connection.Open();
        StoreSql.Execute(connection, "PRAGMA journal_mode=WAL; CREATE TABLE t(x INTEGER UNIQUE)");
        using var backend = new SqliteBackend(path);
        using var writer = new StoreWriter(connection, backend, TimeProvider.System, 0, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        using var gate = new ManualResetEventSlim();

        // The writer's thread waits on the gate while the next group queues up behind it: winner, loser, a slow write.
        var blocker = writer.WriteGroupedAsync(() => gate.Wait(TimeSpan.FromSeconds(30)));
        var winner = writer.WriteGroupedAsync(() => writer.Execute("INSERT INTO t VALUES(1)"));
        var loser = writer.WriteGroupedAsync(() => writer.Execute("INSERT INTO t VALUES(1)"));
        var slow = writer.WriteGroupedAsync(() =>
        {
            Thread.Sleep(300);
            return 0;
        });
        gate.Set();

        await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => loser);
        using var reader = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}");
        reader.Open();
        Assert.Equal(1L, StoreSql.Scalar(reader, "SELECT COUNT(*) FROM t"));
        Assert.True(slow.IsCompleted, "the loser heard before its group (with the slow write) ended");
        await Task.WhenAll(blocker, winner, slow);
    }
}
