using Microsoft.Data.Sqlite;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>The few SQL helpers every part of the store uses: connections, commands with parameters, ids.</summary>
internal static class StoreSql
{
    /// <summary>Native connections (pooled across opens) that already have the store's settings.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, object> Configured = [];

    /// <summary>A connection with the store's settings (reads through a memory map).</summary>
    public static SqliteConnection Open(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
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

    public static string Id(Guid id) => id.ToString("D");

    public static int Execute(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        return command.ExecuteNonQuery();
    }

    public static object? Scalar(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        var result = command.ExecuteScalar();
        return result is DBNull ? null : result;
    }

    public static SqliteCommand Command(SqliteConnection connection, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }
}
