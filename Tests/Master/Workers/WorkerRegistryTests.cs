using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Master.Workers;
using Microsoft.Extensions.Time.Testing;

namespace DistributedExecutor.Tests.Master.Workers;

/// <summary>The registry on a fake clock: ids bound to their process, lost after the timeout, forgotten after retention.</summary>
public sealed class WorkerRegistryTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-11-27T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly WorkerRegistry _registry;

    public WorkerRegistryTests() =>
        _registry = new WorkerRegistry(new MasterOptions { HeartbeatTimeoutSeconds = 10, LostWorkerRetentionSeconds = 60 }, _time);

    [Fact]
    public void Register_LiveIdFromAnotherProcess_Refused_UntilTheHolderFallsSilent()
    {
        Assert.True(_registry.Register(Registration("w1", "a")));

        Assert.False(_registry.Register(Registration("w1", "b", pool: "stolen")));
        Assert.Equal("default", _registry.List(null).Single().Pool);
        Assert.False(_registry.Heartbeat(new HeartbeatRequest { WorkerId = "w1", InstanceId = "b" }));

        _time.Advance(TimeSpan.FromSeconds(11));
        Assert.True(_registry.Register(Registration("w1", "b", pool: "other")));
        Assert.Equal("other", _registry.List(null).Single().Pool);
    }

    [Fact]
    public void NewlyLost_AfterTheTimeout_OnceThenForgottenAfterRetention()
    {
        _registry.Register(Registration("w1", "a"));
        _registry.Register(Registration("w2", "b"));

        _time.Advance(TimeSpan.FromSeconds(8));
        Assert.True(_registry.Heartbeat(new HeartbeatRequest { WorkerId = "w2", InstanceId = "b" }));
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(["w1"], _registry.NewlyLost());
        Assert.Empty(_registry.NewlyLost());
        Assert.Equal(WorkerState.Lost, _registry.List(null).Single(w => w.WorkerId == "w1").State);

        _time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(["w2"], _registry.NewlyLost());
        Assert.Equal(["w2"], _registry.List(null).Select(w => w.WorkerId));
    }

    [Fact]
    public void List_Paged_InPoolThenIdOrder()
    {
        foreach (var (id, pool) in new[] { ("b", "p1"), ("d", "p2"), ("c", "p1"), ("a", "p1") })
        {
            _registry.Register(Registration(id, id + pool, pool));
        }

        var first = _registry.List(null, limit: 2);
        var rest = _registry.List(null, (first[^1].Pool, first[^1].WorkerId));

        Assert.Equal(["p1/a", "p1/b"], first.Select(w => $"{w.Pool}/{w.WorkerId}"));
        Assert.Equal(["p1/c", "p2/d"], rest.Select(w => $"{w.Pool}/{w.WorkerId}"));
    }

    private static RegisterWorkerRequest Registration(string id, string instance, string pool = "default") =>
        new() { WorkerId = id, Pool = pool, Capacity = 4, InstanceId = instance };
}
