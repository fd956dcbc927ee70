namespace DistributedExecutor.Worker.Running;

/// <summary>One worker identity: what the master's registry lists and what an attempt records.</summary>
internal sealed class WorkerNode(string id, int capacity)
{
    private int _running;

    public string Id { get; } = id;

    public int Capacity { get; } = capacity;

    public int Running => Volatile.Read(ref _running);

    public volatile bool Draining;

    internal void Enter() => Interlocked.Increment(ref _running);

    internal void Leave() => Interlocked.Decrement(ref _running);
}
