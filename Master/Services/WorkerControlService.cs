using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Workers;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using V1 = DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Services;

/// <summary>The workers' control plane: registration, heartbeats, and the list operators see.</summary>
internal sealed class WorkerControlService(WorkerRegistry registry) : V1.WorkerService.WorkerServiceBase
{
    public override Task<RegisterWorkerResponse> RegisterWorker(RegisterWorkerRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.WorkerId))
        {
            throw RpcErrors.Invalid("worker_id is required");
        }

        if (request.Capacity <= 0)
        {
            throw RpcErrors.Invalid("capacity must be positive");
        }

        registry.Register(request);
        return Task.FromResult(new RegisterWorkerResponse { HeartbeatInterval = Duration.FromTimeSpan(registry.Timeout / 3) });
    }

    public override Task<HeartbeatResponse> Heartbeat(HeartbeatRequest request, ServerCallContext context) =>
        Task.FromResult(new HeartbeatResponse { Known = registry.Heartbeat(request) });

    public override Task<ListWorkersResponse> ListWorkers(ListWorkersRequest request, ServerCallContext context)
    {
        var response = new ListWorkersResponse();
        response.Workers.AddRange(registry.List(request.Pool));
        return Task.FromResult(response);
    }
}
