namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>The job store was written by a newer master than this one: refused, with the one line to show.</summary>
internal sealed class StoreVersionException(string message) : Exception(message);
