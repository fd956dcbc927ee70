using System.Data.Common;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// Where a query gets its command: a new one on a connection of its own (disposed after use), or, for the small reads
/// that run on the writer's connection at every watcher's wake-up, the writer's kept one — prepared once, so SQLite
/// does not parse and plan the same text again at each event (a tenth of the master's CPU in the pipeline benchmark).
/// </summary>
internal sealed class Statements
{
    private readonly DbConnection? _connection;
    private readonly Func<string, DbCommand>? _kept;

    private Statements(DbConnection? connection, Func<string, DbCommand>? kept) => (_connection, _kept) = (connection, kept);

    /// <summary>New commands on <paramref name="connection"/>.</summary>
    public static Statements On(DbConnection connection) => new(connection, null);

    /// <summary>Kept commands, by their SQL text, with no parameters yet (the store's own texts: a bounded set).</summary>
    public static Statements Kept(Func<string, DbCommand> kept) => new(null, kept);

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
    public readonly struct Lease(DbCommand query, bool owned) : IDisposable
    {
        public DbCommand Query { get; } = query;

        public void Dispose()
        {
            if (owned)
            {
                Query.Dispose();
            }
        }
    }
}
