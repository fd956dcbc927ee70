using System.Data.Common;
using Npgsql;
using static DistributedExecutor.Master.Jobs.Store.StoreSql;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// The job store in PostgreSQL (MASTER_DB_URL), shared by several masters. Every write transaction first takes one
/// transaction-scoped advisory lock, so the writes of all masters are applied one after another exactly as a single
/// SQLite writer applies them: the same statements keep the same meaning (read a task, decide, write), output offsets
/// grow in commit order (a follower reading "after offset N" never skips a row committed later with a smaller one),
/// and admission counts every master's jobs. Reads take no lock. A group commit holds it for one transaction of many
/// events, so what serialises is the database's own work; each master's gRPC, broker and watchers run in parallel.
/// </summary>
internal sealed class PostgresBackend : StoreBackend
{
    /// <summary>The advisory lock keys this store uses (an arbitrary constant: "distexec" in ASCII, and the migration's).</summary>
    private const long WriteLock = 0x6469737465786563;
    private const long MigrationLock = WriteLock + 1;

    private readonly NpgsqlDataSource _source;

    public PostgresBackend(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        Location = $"postgres://{builder.Host}:{builder.Port}/{builder.Database}";
        // A pooled connection returns to the pool as it is (the store sets no session state on it): no DISCARD ALL.
        builder.NoResetOnClose = true;
        // The store's statements are a few dozen constant texts run over and over: each is prepared on the server
        // once it has been used twice, on each connection (parsing and planning them was most of the server's work).
        if (builder.MaxAutoPrepare == 0)
        {
            builder.MaxAutoPrepare = 256;
            builder.AutoPrepareMinUsages = 2;
        }
        _source = NpgsqlDataSource.Create(builder);
    }

    public override string Location { get; }

    public override bool Shared => true;

    /// <summary>No: statements are prepared on the server by their text (auto-prepare), each run on a new command.</summary>
    public override bool ReusesCommands => false;

    public override DbConnection Open() => _source.OpenConnection();

    /// <summary>How long start-up waits for a database that does not answer yet (it may be starting beside the master).</summary>
    public static readonly TimeSpan StartupWait = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The first connection: a server that does not answer (yet) is tried again every 2 s for <see cref="StartupWait"/>,
    /// one line each time; one that answers and refuses (credentials, no such database) stops start-up at once.
    /// </summary>
    public override DbConnection OpenAtStart(ILogger logger)
    {
        var deadline = DateTime.UtcNow + StartupWait;
        while (true)
        {
            try
            {
                return Open();
            }
            catch (PostgresException ex) when (ex.SqlState is not (PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.TooManyConnections))
            {
                throw new StoreUnavailableException($"the job store {Location} refused the master: {ex.MessageText} ({ex.SqlState})", ex);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                var why = ex.InnerException?.Message ?? ex.Message;
                if (DateTime.UtcNow >= deadline)
                {
                    throw new StoreUnavailableException($"the job store {Location} did not answer within {StartupWait.TotalSeconds:0} s: {why}", ex);
                }

                LogWaiting(logger, Location, why, null);
                Thread.Sleep(TimeSpan.FromSeconds(2));
            }
        }
    }

    private static readonly Action<ILogger, string, string, Exception?> LogWaiting = LoggerMessage.Define<string, string>(
        LogLevel.Warning, new EventId(1, "StoreNotAnswering"), "The job store {Location} does not answer yet ({Reason}); trying again in 2 s");

    public override void Migrate(DbConnection connection)
    {
        // Masters starting together: one migrates, the others wait and then find it done.
        Execute(connection, "SELECT pg_advisory_lock(@key)", ("@key", MigrationLock));
        try
        {
            PostgresMigrations.Apply(connection, Location);
        }
        finally
        {
            Execute(connection, "SELECT pg_advisory_unlock(@key)", ("@key", MigrationLock));
        }
    }

    public override void BeginWrite(DbConnection connection, DbTransaction transaction)
    {
        using var command = Command(connection, "SELECT pg_advisory_xact_lock(" + WriteLock + ")", []);
        command.Transaction = transaction;
        command.ExecuteNonQuery();
    }

    public override bool IsFull(Exception exception) => exception is PostgresException { SqlState: PostgresErrorCodes.DiskFull };

    public override bool IsUniqueViolation(Exception exception) => exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    /// <summary>Unknown: the space is the database server's.</summary>
    public override long FreeBytes() => 0;

    /// <summary>PostgreSQL checks its pages itself (and amcheck is an extension); this checks the store answers and is at this master's schema.</summary>
    public override string IntegrityCheck(DbConnection connection) =>
        Long(Scalar(connection, "SELECT MAX(version) FROM schema_version")) == PostgresMigrations.Latest ? "ok" : "schema version differs from this master's";

    public override string Contains(string text, string part) => $"strpos({text}, {part}) > 0";

    public override IDisposable? ShareChanges(JobSignals signals, string instance) => new PostgresChangeFeed(_source, signals, instance);

    public override void Dispose() => _source.Dispose();

    /// <summary>
    /// The Npgsql connection string for a postgres:// (or postgresql://) URL: user, password, host, port, database and
    /// query options (sslmode=require, …). Errors never repeat the URL: it may carry a password.
    /// </summary>
    public static string ConnectionString(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("postgres" or "postgresql") || string.IsNullOrEmpty(uri.Host))
        {
            throw new FormatException("MASTER_DB_URL must be a URL like postgres://user:password@host:5432/database");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host.Trim('[', ']'),
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')) is { Length: > 0 } db ? db : "postgres",
            // Commands wait at most this long for the write lock or a row: a stuck database is an error, not a hang.
            CommandTimeout = 60,
        };
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            try
            {
                builder[key] = value;
            }
            catch (ArgumentException)
            {
                throw new FormatException($"MASTER_DB_URL has an option PostgreSQL's driver does not know: {key}");
            }
        }

        return builder.ConnectionString;
    }
}
