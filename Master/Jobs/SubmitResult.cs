using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Jobs;

/// <summary>The outcome of a submission; exactly one of its parts is set.</summary>
internal sealed record SubmitResult(Job? Job, IReadOnlyList<string>? Problems, string? DeniedReason, string? ExhaustedReason, string? UnavailableReason, string? PreconditionReason = null)
{
    public static SubmitResult Accepted(Job job) => new(job, null, null, null, null);

    public static SubmitResult Invalid(IReadOnlyList<string> problems) => new(null, problems, null, null, null);

    public static SubmitResult Denied(string reason) => new(null, null, reason, null, null);

    public static SubmitResult Exhausted(string reason) => new(null, null, null, reason, null);

    public static SubmitResult Unavailable(string reason) => new(null, null, null, null, reason);

    public static SubmitResult FailedPrecondition(string reason) => new(null, null, null, null, null, reason);
}
