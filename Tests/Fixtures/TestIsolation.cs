using DistributedExecutor.Executors.Isolation;

namespace DistributedExecutor.Tests.Fixtures;

/// <summary>The task isolation a worker on this machine would use, for executors created in tests.</summary>
public static class TestIsolation
{
    private static readonly Lazy<TaskIsolation> Instance = new(() =>
    {
        var problems = new List<string>();
        return TaskIsolation.Create(null, [], problems) ?? throw new InvalidOperationException($"task isolation: {string.Join("; ", problems)}");
    });

    internal static TaskIsolation Shared => Instance.Value;
}
