using System.Data.Common;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// What differs between the databases a job store can live in (SQLite for one master, PostgreSQL for several): how a
/// connection is opened, the schema and its migrations, what "the disk is full" and "that key is taken" look like, and
/// the few SQL fragments they spell differently. Everything else — the state rules, the statements — is shared.
/// </summary>
internal abstract class StoreBackend : IDisposable
{
    /// <summary>Where the store is, for messages (a file path, or host and database; never a password).</summary>
    public abstract string Location { get; }

    /// <summary>Other masters write to the same store: what one master counts in memory must be read again under the write lock.</summary>
    public virtual bool Shared => false;

    /// <summary>A command may be kept and run again with new parameters (SQLite prepares it once that way).</summary>
    public virtual bool ReusesCommands => true;

    /// <summary>An open connection with the store's settings.</summary>
    public abstract DbConnection Open();

    /// <summary>The first connection, at start-up: where the database may still be starting, waits for it a while.</summary>
    public virtual DbConnection OpenAtStart(ILogger logger) => Open();

    /// <summary>Brings the schema up to date; throws <see cref="StoreVersionException"/> for a newer one.</summary>
    public abstract void Migrate(DbConnection connection);

    /// <summary>Called first in every write transaction: where several masters write, this takes the store's write lock.</summary>
    public virtual void BeginWrite(DbConnection connection, DbTransaction transaction)
    {
    }

    /// <summary>The write failed because the store's disk is full.</summary>
    public abstract bool IsFull(Exception exception);

    /// <summary>The write failed on a unique key (an idempotency key another write took first).</summary>
    public abstract bool IsUniqueViolation(Exception exception);

    /// <summary>Free space where the store writes, in bytes (0 when unknown).</summary>
    public abstract long FreeBytes();

    /// <summary>"ok", or what the database's own check found wrong.</summary>
    public abstract string IntegrityCheck(DbConnection connection);

    /// <summary>SQL: whether <paramref name="text"/> contains <paramref name="part"/> (both already lower-cased), literally.</summary>
    public abstract string Contains(string text, string part);

    /// <summary>Where several masters share the store: starts telling the others of this master's changes and hearing theirs.</summary>
    public virtual IDisposable? ShareChanges(JobSignals signals, string instance) => null;

    public virtual void Dispose()
    {
    }
}
