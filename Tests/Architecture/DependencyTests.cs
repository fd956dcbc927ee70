using System.Reflection;

namespace DistributedExecutor.Tests.Architecture;

/// <summary>
/// The projects' dependencies point one way (docs/architecture.md): Contracts ← Hosting ← Executors ←
/// {Master, Worker} ← DevHost, and Cli on Contracts alone. Read from the compiled assemblies' references.
/// </summary>
public sealed class DependencyTests
{
    public static TheoryData<string, string[]> Allowed() => new()
    {
        { "DistributedExecutor.Contracts", [] },
        { "DistributedExecutor.Hosting", ["DistributedExecutor.Contracts"] },
        { "DistributedExecutor.Executors", ["DistributedExecutor.Contracts", "DistributedExecutor.Hosting"] },
        { "DistributedExecutor.Master", ["DistributedExecutor.Contracts", "DistributedExecutor.Hosting", "DistributedExecutor.Executors"] },
        { "DistributedExecutor.Worker", ["DistributedExecutor.Contracts", "DistributedExecutor.Hosting", "DistributedExecutor.Executors"] },
        { "DistributedExecutor.DevHost", ["DistributedExecutor.Contracts", "DistributedExecutor.Hosting", "DistributedExecutor.Executors", "DistributedExecutor.Master", "DistributedExecutor.Worker"] },
        { "distctl", ["DistributedExecutor.Contracts"] },
    };

    [Theory]
    [MemberData(nameof(Allowed))]
    public void Assembly_ReferencesOnlyTheProjectsBelowIt(string assembly, string[] allowed)
    {
        var references = Assembly.Load(assembly).GetReferencedAssemblies()
            .Select(a => a.Name!)
            .Where(n => n.StartsWith("DistributedExecutor.", StringComparison.Ordinal) || n == "distctl")
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.All(references, r => Assert.Contains(r, allowed));
    }

    [Fact]
    public void Master_NeverReferencesWorker_NorDoExecutorsOrHosting()
    {
        foreach (var name in new[] { "DistributedExecutor.Master", "DistributedExecutor.Executors", "DistributedExecutor.Hosting" })
        {
            Assert.DoesNotContain("DistributedExecutor.Worker", Assembly.Load(name).GetReferencedAssemblies().Select(a => a.Name));
        }
    }
}
