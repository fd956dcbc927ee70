using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.Chaos;

/// <summary>
/// The chaos scenarios run one at a time, after the rest of the suite, on a RabbitMQ of their own that they may
/// stop, start and cut connections on.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChaosCollection : ICollectionFixture<ChaosBroker>
{
    public const string Name = "chaos";
}

/// <summary>A private broker for the chaos scenarios.</summary>
public sealed class ChaosBroker : IAsyncLifetime
{
    public RabbitMqBroker Broker { get; private set; } = null!;

    public async Task InitializeAsync() => Broker = await RabbitMqBroker.StartPrivateAsync();

    public async Task DisposeAsync() => await Broker.DisposeAsync();
}
