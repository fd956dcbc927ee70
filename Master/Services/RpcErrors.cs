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
