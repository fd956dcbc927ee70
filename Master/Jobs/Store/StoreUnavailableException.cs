namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>The store could not be opened at start-up (unreachable, refused our credentials, no such database): one line says which.</summary>
internal sealed class StoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
