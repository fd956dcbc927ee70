namespace DistributedExecutor.Contracts.Messages;

/// <summary>
/// A batch of output of one attempt. <paramref name="Sequence"/> counts batches from 0 within the attempt,
/// so the master stores each batch once however often it arrives.
/// </summary>
public sealed record TaskOutput(
    Guid JobId,
    Guid TaskId,
    Guid AttemptId,
    long Sequence,
    IReadOnlyList<OutputChunkData> Chunks);
