using System.Security.Cryptography;
using System.Text;
using DistributedExecutor.Master.Options;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace DistributedExecutor.Master.Services;

/// <summary>
/// Bearer tokens, by role. Workers' calls (RegisterWorker, Heartbeat) take WORKER_TOKEN (API_TOKEN when no worker
/// token is set); every other call takes API_TOKEN. A token of the other role is PERMISSION_DENIED, so a worker's
/// token cannot submit jobs. With no token for a role its calls are open, which the master allows only on
/// loopback. Health checks stay open for probes. Comparisons take constant time; tokens are never logged.
/// </summary>
internal sealed class TokenAuthInterceptor : Interceptor
{
    private static readonly HashSet<string> WorkerMethods = new(StringComparer.Ordinal)
    {
        "/distexec.v1.WorkerService/RegisterWorker",
        "/distexec.v1.WorkerService/Heartbeat",
    };

    private readonly byte[]? _client;
    private readonly byte[]? _worker;

    public TokenAuthInterceptor(MasterOptions options)
    {
        _client = Bearer(options.ApiToken);
        _worker = Bearer(options.WorkerToken ?? options.ApiToken);
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, responseStream, context);
    }

    private static byte[]? Bearer(string? token) => token is null ? null : Encoding.UTF8.GetBytes("Bearer " + token);

    private void Check(ServerCallContext context)
    {
        if (context.Method.StartsWith("/grpc.health.v1.Health/", StringComparison.Ordinal))
        {
            return;
        }

        var workerCall = WorkerMethods.Contains(context.Method);
        var (expected, other) = workerCall ? (_worker, _client) : (_client, _worker);
        if (expected is null)
        {
            return;
        }

        var presented = context.RequestHeaders.GetValue("authorization") is { } header ? Encoding.UTF8.GetBytes(header) : null;
        if (presented is not null && CryptographicOperations.FixedTimeEquals(presented, expected))
        {
            return;
        }

        if (presented is not null && other is not null && CryptographicOperations.FixedTimeEquals(presented, other))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, workerCall
                ? "this call is for workers: present WORKER_TOKEN, not a client token"
                : "a worker token cannot call this: present the API token (distctl --token / DISTEXEC_TOKEN)"));
        }

        throw new RpcException(new Status(StatusCode.Unauthenticated, workerCall
            ? "missing or wrong worker token (set WORKER_TOKEN, or API_TOKEN when the master has no WORKER_TOKEN)"
            : "missing or wrong API token (distctl --token or DISTEXEC_TOKEN)"));
    }
}
