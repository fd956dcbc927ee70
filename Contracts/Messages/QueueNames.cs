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

    /// <summary>The task queue of a pool (its normal priority).</summary>
    public static string Tasks(string pool) => $"distexec.tasks.{pool}";

    /// <summary>
    /// The pool's queue for tasks of <paramref name="priority"/> (<see cref="TaskPriority"/>): normal ones in
    /// <c>distexec.tasks.&lt;pool&gt;</c>, high in <c>….high</c>, low in <c>….low</c>. KEDA scales a pool on the sum of the three.
    /// </summary>
    public static string Tasks(string pool, int priority) => priority switch
    {
        > 0 => $"distexec.tasks.{pool}.high",
        < 0 => $"distexec.tasks.{pool}.low",
        _ => Tasks(pool),
    };
}
