namespace DistributedExecutor.Contracts.Messages;

/// <summary>Bytes written to one stream, in order.</summary>
public sealed record OutputChunkData(OutputStreamKind Stream, byte[] Data);
