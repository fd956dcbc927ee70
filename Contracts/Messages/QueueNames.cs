namespace DistributedExecutor.Contracts.Messages;

/// <summary>Queue names are a contract with operators and KEDA: keep them stable.</summary>
public static class QueueNames
{
    /// <summary>The queue the master consumes worker events from.</summary>
    public const string MasterEvents = "distexec.master.events";

    /// <summary>Where the broker puts task messages delivered more often than the delivery limit allows.</summary>
    public const string DeadTasks = "distexec.tasks.dead";

    /// <summary>A worker's own queue (fan-out tasks addressed to it alone).</summary>
    public static string Worker(string workerId) => $"distexec.worker.{workerId}";

    /// <summary>The task queue of a pool.</summary>
    public static string Tasks(string pool) => $"distexec.tasks.{pool}";
}
