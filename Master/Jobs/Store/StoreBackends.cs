using DistributedExecutor.Master.Options;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>Which database the options name: PostgreSQL when MASTER_DB_URL is set, else the SQLite file at MASTER_DB_PATH.</summary>
internal static class StoreBackends
{
    public static StoreBackend For(MasterOptions options) =>
        options.DatabaseUrl is { } url ? new PostgresBackend(PostgresBackend.ConnectionString(url)) : new SqliteBackend(options.DatabasePath);
}
