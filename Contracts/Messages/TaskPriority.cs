namespace DistributedExecutor.Contracts.Messages;

/// <summary>A task's priority on the bus (ExecuteTask.Priority): higher starts first.</summary>
public static class TaskPriority
{
    public const int High = 1;
    public const int Normal = 0;
    public const int Low = -1;

    /// <summary>Every priority, highest first.</summary>
    public static IReadOnlyList<int> All { get; } = [High, Normal, Low];

    public static string Name(int priority) => priority switch
    {
        > 0 => "high",
        < 0 => "low",
        _ => "normal",
    };
}
