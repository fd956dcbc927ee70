using Grpc.Core;
using Grpc.Core.Interceptors;

namespace DistributedExecutor.Master.Services;

/// <summary>
/// The token check again at the gRPC layer, for calls that reach a service without passing
/// <see cref="RequestGateMiddleware"/> (which checks first, before any body is read); it also tells the service who
/// calls (<see cref="CallerOf"/>), so what a token does is recorded under its name.
/// </summary>
internal sealed class TokenAuthInterceptor(TokenAuthorizer authorizer) : Interceptor
{
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

    private void Check(ServerCallContext context)
    {
        var (caller, refusal) = authorizer.Check(context.Method, context.RequestHeaders.GetValue("authorization"));
        if (refusal is { } status)
        {
            throw new RpcException(status);
        }

        context.UserState[CallerKey] = caller!;
    }

    private const string CallerKey = "distexec.caller";

    /// <summary>Who makes this call (its token's name and roles; <see cref="Caller.Open"/> where no token is needed).</summary>
    public static Caller CallerOf(ServerCallContext context) =>
        context.UserState.TryGetValue(CallerKey, out var caller) && caller is Caller known ? known : Caller.Open;
}
