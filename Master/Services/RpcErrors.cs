using DistributedExecutor.Executors;
using DistributedExecutor.Hosting.Telemetry;
using Grpc.Core;

namespace DistributedExecutor.Master.Services;

/// <summary>gRPC errors with messages a person can act on.</summary>
internal static class RpcErrors
{
    public static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    public static RpcException NotFound(string what) => new(new Status(StatusCode.NotFound, $"{what} not found"));

    public static RpcException Denied(string message) => new(new Status(StatusCode.PermissionDenied, message));

    public static RpcException Exhausted(string message) => new(new Status(StatusCode.ResourceExhausted, message));

    public static RpcException Unavailable(string message) => new(new Status(StatusCode.Unavailable, message));

    public static RpcException FailedPrecondition(string message) => new(new Status(StatusCode.FailedPrecondition, message));

    public static RpcException AlreadyExists(string message) => new(new Status(StatusCode.AlreadyExists, message));

    /// <summary>The submitted job, or the status its refusal maps to (each refusal its own).</summary>
    public static DistributedExecutor.Contracts.V1.Job JobOrThrow(Jobs.SubmitResult result) => result switch
    {
        Jobs.SubmitResult.Accepted accepted => accepted.Job,
        Jobs.SubmitResult.Invalid invalid => throw Invalid("invalid job: " + string.Join("; ", invalid.Problems)),
        Jobs.SubmitResult.Refused { Why: Jobs.Refusal.Denied } refused => throw Denied("refused: " + refused.Reason),
        Jobs.SubmitResult.Refused { Why: Jobs.Refusal.FailedPrecondition } refused => throw FailedPrecondition(refused.Reason),
        Jobs.SubmitResult.Refused { Why: Jobs.Refusal.Exhausted } refused => throw Exhausted(refused.Reason),
        Jobs.SubmitResult.Refused refused => throw Unavailable(refused.Reason),
        _ => throw new InvalidOperationException($"unknown submit result {result}"),
    };

    public static Guid ParseId(string value, string field)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw Invalid($"{field} is required");
        }

        return value.Length <= 64 && Guid.TryParse(value.Trim(), out var id)
            ? id
            : throw Invalid($"{field} \"{SpecText.Printable(value)}\" is not a job id (expected a UUID such as 0a1b2c3d-…)");
    }
}
