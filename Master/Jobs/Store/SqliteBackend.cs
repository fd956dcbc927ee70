using System.Data.Common;
using Microsoft.Data.Sqlite;
using static DistributedExecutor.Master.Jobs.Store.StoreSql;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>The job store in one SQLite file (WAL), for one master: the embedded default.</summary>
internal sealed class SqliteBackend : StoreBackend
{
    private const int SqliteFull = 13;
    private const int SqliteConstraint = 19;

    /// <summary>Native connections (pooled across opens) that already have the store's settings.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, object> Configured = [];

    private readonly string _path;
    private readonly string _connectionString;

    public SqliteBackend(string databasePath)
    {
        _path = Path.GetFullPath(databasePath);
        // The store holds every job's env and output: readable by the master's user only (tasks run as another).
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public override string Location => _path;

    /// <summary>A connection with the store's settings (reads through a memory map).</summary>
    public override DbConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();

        // Once per native connection, not per open: the pool hands the same one back with its settings, and
        // parsing four PRAGMAs on every read was a measurable share of the master's CPU per task.
        if (Configured.TryAdd(connection.Handle!, Configured))
        {
            // Reads through a memory map: with a writer always busy, each read transaction finds its page cache
            // stale, and re-reading pages by pread(2) was a third of the master's CPU under load.
            Execute(connection, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000; PRAGMA mmap_size = 1073741824;");
        }

        return connection;
    }

    public override void Migrate(DbConnection connection)
    {
        // Before WAL mode creates the -wal and -shm files: SQLite gives them the database file's mode.
        RestrictToOwner(_path);
        Execute(connection, "PRAGMA journal_mode=WAL;");
        StoreMigrations.Apply(connection, _path);
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

    public override bool IsFull(Exception exception) => exception is SqliteException { SqliteErrorCode: SqliteFull };

    public override bool IsUniqueViolation(Exception exception) => exception is SqliteException { SqliteErrorCode: SqliteConstraint };

    public override long FreeBytes()
    {
        try
        {
            return new DriveInfo(Path.GetDirectoryName(_path)!).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return 0;
        }
    }

    public override string IntegrityCheck(DbConnection connection) => (string)Scalar(connection, "PRAGMA integrity_check")!;

    public override string Contains(string text, string part) => $"instr({text}, {part}) > 0";
}
