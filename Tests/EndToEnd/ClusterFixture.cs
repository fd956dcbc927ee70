using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>A master and two workers, with rm blocked, for the end-to-end tests.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    private Cluster? _cluster;

    public Cluster Cluster => _cluster ?? throw new InvalidOperationException("cluster not started");

    public async Task InitializeAsync()
    {
        _cluster = await Cluster.StartAsync(workers: 2, new Dictionary<string, string>
        {
            ["EXECUTOR_COMMAND_BLOCKED"] = "rm",
            ["DRAIN_TIMEOUT_SECONDS"] = "3",
        });
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}
