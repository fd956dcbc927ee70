namespace DistributedExecutor.Worker.Running;

/// <summary>
/// The worker identities this process serves: one for a worker process, several for the embedded
/// development host, which shares one consumer between them and gives each task to the least busy.
/// </summary>
internal sealed class WorkerNodes(IReadOnlyList<WorkerNode> nodes, TimeProvider? time = null)
{
    private readonly Lock _lock = new();

    public IReadOnlyList<WorkerNode> All { get; } = nodes;

    public int TotalCapacity => All.Sum(n => n.Capacity);

    /// <summary>The slots the pool's tasks (high, normal, low) share: as many as the capacity.</summary>
    public PrioritySlots Slots { get; } = new(nodes.Sum(n => n.Capacity), time ?? TimeProvider.System);

    public WorkerNode Enter()
    {
        lock (_lock)
        {
            var node = All.MinBy(n => (double)n.Running / n.Capacity)!;
            node.Enter();
            return node;
        }
    }

    public void SetDraining()
    {
        foreach (var node in All)
        {
            node.Draining = true;
        }
    }
}
