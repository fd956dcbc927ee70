using DistributedExecutor.Contracts.Messages;

namespace DistributedExecutor.Contracts.Executors;

/// <summary>How an execution ended. <see cref="HttpStatus"/> is set by executors that make an HTTP call.</summary>
public sealed record TaskRunResult(TaskOutcome Outcome, int? ExitCode, int? Signal, string? Error)
{
    /// <summary>The final HTTP status, for executors that make HTTP calls.</summary>
    public int? HttpStatus { get; init; }

    /// <summary>What kind of failure this is, when it failed without an exit code of its own.</summary>
    public FailureKind Failure { get; init; }

    /// <summary>The executor itself cut output (for example a response body past its cap).</summary>
    public bool Truncated { get; init; }

    public static TaskRunResult Succeeded() => new(TaskOutcome.Succeeded, 0, null, null);

    public static TaskRunResult CouldNotStart(string error) => new(TaskOutcome.Failed, null, null, $"could not start: {error}") { Failure = FailureKind.CouldNotStart };

    /// <summary>Policy refused to run it (an allow or block list, a blocked address …).</summary>
    public static TaskRunResult Refused(string reason) => new(TaskOutcome.Failed, null, null, $"refused: {reason}") { Failure = FailureKind.Refused };
}
