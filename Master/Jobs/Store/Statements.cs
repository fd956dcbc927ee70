using Microsoft.Data.Sqlite;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// Where a query gets its command: a new one on a connection of its own (disposed after use), or, for the small reads
/// that run on the writer's connection at every watcher's wake-up, the writer's kept one — prepared once, so SQLite
/// does not parse and plan the same text again at each event (a tenth of the master's CPU in the pipeline benchmark).
/// </summary>
internal sealed class Statements
{
    private readonly SqliteConnection? _connection;
    private readonly Func<string, SqliteCommand>? _kept;

    private Statements(SqliteConnection? connection, Func<string, SqliteCommand>? kept) => (_connection, _kept) = (connection, kept);

    /// <summary>New commands on <paramref name="connection"/>.</summary>
    public static Statements On(SqliteConnection connection) => new(connection, null);

    /// <summary>Kept commands, by their SQL text, with no parameters yet (the store's own texts: a bounded set).</summary>
    public static Statements Kept(Func<string, SqliteCommand> kept) => new(null, kept);

    public Lease Command(string sql)
    {
        if (_kept is not null)
        {
            return new Lease(_kept(sql), owned: false);
        }

        var command = _connection!.CreateCommand();
        command.CommandText = sql;
        return new Lease(command, owned: true);
    }

    /// <summary>A command for one query; disposing it disposes only a command made for it.</summary>
    public readonly struct Lease(SqliteCommand query, bool owned) : IDisposable
    {
        public SqliteCommand Query { get; } = query;

        public void Dispose()
        {
            if (owned)
            {
                Query.Dispose();
            }
        }
    }
}
