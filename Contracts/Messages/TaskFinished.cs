namespace DistributedExecutor.Contracts.Messages;

/// <summary>An attempt ended. <paramref name="OutputBatches"/> is how many <see cref="TaskOutput"/> batches it sent.</summary>
public sealed record TaskFinished(
    Guid JobId,
    Guid TaskId,
    Guid AttemptId,
    string WorkerId,
    TaskOutcome Outcome,
    int? ExitCode,
    int? Signal,
    string? Error,
    bool Truncated,
    long OutputBatches,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt);
