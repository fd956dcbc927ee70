using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestFramework("DistributedExecutor.Tests.Fixtures.RunEndFramework", "DistributedExecutor.Tests")]

namespace DistributedExecutor.Tests.Fixtures;

/// <summary>xunit's own framework, which also stops what <see cref="RunEnd"/> holds when the run is over.</summary>
public sealed class RunEndFramework : XunitTestFramework
{
    public RunEndFramework(IMessageSink messageSink)
        : base(messageSink) => DisposalTracker.Add(new Stopper());

    private sealed class Stopper : IDisposable
    {
        public void Dispose() => RunEnd.StopAll();
    }
}
