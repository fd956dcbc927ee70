namespace DistributedExecutor.Master.Services;

/// <summary>An error as JSON transcoding writes one: the gRPC status code and its message.</summary>
internal sealed record ErrorBody(int Code, string Message);
