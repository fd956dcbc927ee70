using DistributedExecutor.Master.Jobs.Store;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace DistributedExecutor.Master.Services;

/// <summary>
/// A call that had to write while the store's disk is full (cancel, drain…) answers RESOURCE_EXHAUSTED with the
/// store's one-line reason instead of an internal error; reads never write and keep working.
/// </summary>
internal sealed class StoreFullInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (StoreFullException full)
        {
            throw RpcErrors.Exhausted(full.Message);
        }
    }
}
