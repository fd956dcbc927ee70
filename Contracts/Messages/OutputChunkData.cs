namespace DistributedExecutor.Contracts.Messages;

/// <summary>Bytes written to one stream, in order; <paramref name="At"/> is when the first of them was read (null from older workers).</summary>
public sealed record OutputChunkData(OutputStreamKind Stream, byte[] Data, DateTimeOffset? At = null);
