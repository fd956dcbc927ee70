namespace DistributedExecutor.Contracts.Messages;

/// <summary>A worker began an attempt of a task. <paramref name="AttemptId"/> is new for every delivery.</summary>
public sealed record TaskStarted(
    Guid JobId,
    Guid TaskId,
    Guid AttemptId,
    string WorkerId,
    int DeliveryCount,
    DateTimeOffset StartedAt,
    int Dispatch = 1);
