using DistributedExecutor.Contracts.Messages;

namespace DistributedExecutor.Contracts.Executors;

/// <summary>Where an executor writes output; the sink batches and caps it.</summary>
public interface IOutputSink
{
    /// <summary>Copies <paramref name="data"/>; the caller may reuse its buffer once the returned task completes (it waits while too much is unsent).</summary>
    ValueTask WriteAsync(OutputStreamKind stream, ReadOnlyMemory<byte> data);
}
