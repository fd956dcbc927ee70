using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Jobs;

/// <summary>The outcome of a submission: accepted, invalid (every problem found), or refused for one reason.</summary>
internal abstract record SubmitResult
{
    private SubmitResult()
    {
    }

    public static SubmitResult Refuse(Refusal why, string reason) => new Refused(why, reason);

    /// <summary>The job, stored and confirmed by the broker (or the one its idempotency key already made).</summary>
    public sealed record Accepted(Job Job) : SubmitResult;

    public sealed record Invalid(IReadOnlyList<string> Problems) : SubmitResult;

    public sealed record Refused(Refusal Why, string Reason) : SubmitResult;
}

/// <summary>Why a valid submission was refused, each mapped to its own gRPC status.</summary>
internal enum Refusal
{
    /// <summary>The executor policy forbids it.</summary>
    Denied,

    /// <summary>Something it names is not there (a fan-out to no worker).</summary>
    FailedPrecondition,

    /// <summary>MAX_CONCURRENT_JOBS reached.</summary>
    Exhausted,

    /// <summary>The broker did not confirm it; nothing was queued.</summary>
    Unavailable,
}
