namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// A write found no room on the store's filesystem (SQLite's SQLITE_FULL). Nothing of that write was kept; the
/// same write succeeds once space is freed, so callers refuse new work with <see cref="Exception.Message"/> and
/// let events wait in the broker rather than give up on them.
/// </summary>
internal sealed class StoreFullException(string message, Exception inner) : Exception(message, inner);
