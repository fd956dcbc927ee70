using System.Security.Cryptography;
using System.Text;
using DistributedExecutor.Master.Options;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace DistributedExecutor.Master.Services;

/// <summary>
/// With API_TOKEN set, every call but health checks must carry "authorization: Bearer &lt;token&gt;".
/// The comparison takes constant time and the token is never logged.
/// </summary>
internal sealed class TokenAuthInterceptor(MasterOptions options) : Interceptor
{
    private readonly byte[]? _expected = options.ApiToken is { } token ? Encoding.UTF8.GetBytes("Bearer " + token) : null;

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

    private void Check(ServerCallContext context)
    {
        if (_expected is null || context.Method.StartsWith("/grpc.health.v1.Health/", StringComparison.Ordinal))
        {
            return;
        }

        var presented = context.RequestHeaders.GetValue("authorization");
        if (presented is null || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), _expected))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "missing or wrong API token (set API_TOKEN for distctl and workers)"));
        }
    }
}
