namespace DistributedExecutor.Contracts.Messages;

/// <summary>Queue names are a contract with operators and KEDA: keep them stable.</summary>
public static class QueueNames
{
    /// <summary>The queue the master consumes worker events from.</summary>
    public const string MasterEvents = "distexec.master.events";

    /// <summary>The task queue of a pool.</summary>
    public static string Tasks(string pool) => $"distexec.tasks.{pool}";
}
