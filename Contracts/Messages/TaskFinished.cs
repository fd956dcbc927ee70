namespace DistributedExecutor.Contracts.Messages;

/// <summary>An attempt ended. <paramref name="HttpStatus"/> is the final status of an HTTP task; <paramref name="Failure"/> what kind of failure
/// ended it when it failed without an exit code of its own; <paramref name="Output"/> the attempt's last output,
/// carried here instead of in a <see cref="TaskOutput"/> of its own when it is small (most short tasks then
/// send no TaskOutput at all), and stored in the same transaction that ends the attempt. <paramref name="Dispatch"/> and
/// <paramref name="DeliveryCount"/> repeat the attempt's TaskStarted, so the master records the attempt alike whichever
/// of the two it applies first; <paramref name="OutputBatches"/> is how many output batches the attempt produced
/// (sequences 0 to n-1, the last possibly carried here): the master ends the attempt once all are stored.</summary>
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
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt,
    int? HttpStatus = null,
    FailureKind Failure = FailureKind.None,
    TaskOutput? Output = null,
    int Dispatch = 0,
    int DeliveryCount = 0,
    long OutputBatches = 0);
