namespace DistributedExecutor.Contracts.Messages;

/// <summary>Why a run failed without an exit code of its own; carried from the executor to the client (the proto's FailureKind).</summary>
public enum FailureKind
{
    None = 0,
    CouldNotStart = 1,
    Refused = 2,
    InvalidSpec = 3,
    ExecutorError = 4,
    Lost = 5,
    GaveUp = 6,
}
