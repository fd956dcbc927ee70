using System.Globalization;
using System.Net;
using System.Text.Json;
using DistributedExecutor.Master.Options;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;

namespace DistributedExecutor.Master.Services;

/// <summary>
/// The first thing every request meets, before any of its body is read: the token for the gRPC method it maps
/// to (gRPC and JSON alike), so a caller without one costs the master nothing; a declared body larger than
/// MAX_REQUEST_BYTES (a streaming call's messages are held to it one by one); and, on a master without a
/// token (loopback only), a Host and Origin that are loopback, so a web page cannot reach it through DNS
/// rebinding or a cross-site request.
/// </summary>
internal sealed class RequestGateMiddleware(RequestDelegate next, MasterOptions options, TokenAuthorizer authorizer)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (!options.Authenticated && ForeignHostOrOrigin(context.Request) is { } foreign)
        {
            return RejectAsync(context, new Status(StatusCode.PermissionDenied,
                $"{foreign} is not a loopback name: without API_TOKEN the master answers only requests to and from localhost, 127.0.0.1 or [::1]"));
        }

        var grpcMethod = context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method;
        if (grpcMethod is not null && authorizer.Check(grpcMethod.FullName, context.Request.Headers.Authorization.FirstOrDefault()).Refusal is { } status)
        {
            return RejectAsync(context, status);
        }

        if (context.Request.ContentLength > options.MaxRequestBytes)
        {
            // Declared too large: refused before a byte of it is read (undeclared bodies meet the same limit as they are read).
            return RejectAsync(context, new Status(StatusCode.ResourceExhausted,
                $"the request body of {context.Request.ContentLength} bytes exceeds MAX_REQUEST_BYTES={options.MaxRequestBytes}; split the job (or raise MAX_REQUEST_BYTES on the master)"));
        }

        if (grpcMethod?.Type is MethodType.ClientStreaming or MethodType.DuplexStreaming
            && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            // A stream of messages outlives any total (a worker's heartbeat stream lives for days, and broke once it
            // had carried MAX_REQUEST_BYTES): gRPC holds each of its messages to MAX_REQUEST_BYTES, the stream to none.
            bodyLimit.MaxRequestBodySize = null;
        }

        return next(context);
    }

    private static string? ForeignHostOrOrigin(HttpRequest request)
    {
        var host = request.Host.Host;
        if (!IsLoopbackName(host))
        {
            return $"Host '{host}'";
        }

        var origin = request.Headers.Origin.FirstOrDefault();
        if (origin is not null && (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || !IsLoopbackName(uri.Host)))
        {
            return $"Origin '{origin}'";
        }

        return null;
    }

    private static bool IsLoopbackName(string host)
    {
        var name = host.Trim('[', ']');
        return name.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(name, out var address) && IPAddress.IsLoopback(address));
    }

    /// <summary>Answers the request with <paramref name="status"/> and nothing else: trailers-only for gRPC, JSON otherwise.</summary>
    internal static async Task RejectAsync(HttpContext context, Status status)
    {
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
        {
            // A trailers-only gRPC response: the status travels in the headers.
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/grpc";
            context.Response.Headers["grpc-status"] = ((int)status.StatusCode).ToString(CultureInfo.InvariantCulture);
            context.Response.Headers["grpc-message"] = Uri.EscapeDataString(status.Detail);
            return;
        }

        // As JSON transcoding answers an RpcException: the HTTP status of the code, and the status as JSON.
        context.Response.StatusCode = status.StatusCode switch
        {
            StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
            StatusCode.ResourceExhausted => StatusCodes.Status413PayloadTooLarge,
            _ => StatusCodes.Status403Forbidden,
        };
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new ErrorBody((int)status.StatusCode, status.Detail), GateJson.Default.ErrorBody)).ConfigureAwait(false);
    }
}
