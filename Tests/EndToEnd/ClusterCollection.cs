namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>
/// End-to-end tests share one cluster (a master and two workers) and run one after another: they kill and
/// restart processes, and their timings are not shared with other heavy tests.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
