using DistributedExecutor.Worker.Executors;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Workers;
using DistributedExecutor.Worker.Options;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using V1 = DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Services;

/// <summary>The workers' control plane: registration, heartbeats, and the list operators see.</summary>
internal sealed class WorkerControlService(WorkerRegistry registry) : V1.WorkerService.WorkerServiceBase
{
    public override Task<RegisterWorkerResponse> RegisterWorker(RegisterWorkerRequest request, ServerCallContext context)
    {
        CheckWorkerId(request.WorkerId);
        if (request.Capacity is <= 0 or > 100_000)
        {
            throw RpcErrors.Invalid($"capacity {request.Capacity} must be between 1 and 100000");
        }

        if (!PoolName.IsValid(request.Pool))
        {
            throw RpcErrors.Invalid($"pool \"{SpecText.Printable(request.Pool)}\": {PoolName.Rule}");
        }

        if (request.Executors.Count > 256 || request.Executors.Any(e => e.Length is 0 or > 63) || request.Address.Length > 512)
        {
            throw RpcErrors.Invalid("executors (at most 256 names of 1-63 characters) or address (at most 512 characters) out of bounds");
        }

        registry.Register(request);
        return Task.FromResult(new RegisterWorkerResponse { HeartbeatInterval = Duration.FromTimeSpan(registry.Timeout / 3) });
    }

    public override Task<HeartbeatResponse> Heartbeat(HeartbeatRequest request, ServerCallContext context)
    {
        CheckWorkerId(request.WorkerId);
        return Task.FromResult(new HeartbeatResponse { Known = registry.Heartbeat(request) });
    }

    private static void CheckWorkerId(string workerId)
    {
        if (string.IsNullOrWhiteSpace(workerId))
        {
            throw RpcErrors.Invalid("worker_id is required");
        }

        if (workerId.Length > 253 || workerId.Any(char.IsControl))
        {
            throw RpcErrors.Invalid($"worker_id \"{SpecText.Printable(workerId)}\" must be at most 253 printable characters");
        }
    }

    public override Task<ListWorkersResponse> ListWorkers(ListWorkersRequest request, ServerCallContext context)
    {
        var response = new ListWorkersResponse();
        response.Workers.AddRange(registry.List(request.Pool));
        return Task.FromResult(response);
    }
}
