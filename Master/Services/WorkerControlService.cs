using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Executors;
using DistributedExecutor.Executors.Isolation;
using DistributedExecutor.Hosting.Settings;
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

        if (request.InstanceId.Length > 64 || request.TaskIsolation.Length > 1024)
        {
            throw RpcErrors.Invalid("instance_id (at most 64 characters) or task_isolation (at most 1024) out of bounds");
        }

        if (JobRules.CheckWorkerLabels(request.Labels) is { } badLabels)
        {
            throw RpcErrors.Invalid($"labels: {badLabels}");
        }

        if (!registry.Register(request))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists,
                $"worker id \"{SpecText.Printable(request.WorkerId)}\" is held by another live worker process; give this one its own WORKER_ID (or wait {registry.Timeout.TotalSeconds:0}s after the other stops)"));
        }

        return Task.FromResult(new RegisterWorkerResponse { HeartbeatInterval = Duration.FromTimeSpan(registry.Timeout / 3) });
    }

    public override Task<HeartbeatResponse> Heartbeat(HeartbeatRequest request, ServerCallContext context)
    {
        CheckWorkerId(request.WorkerId);
        return Task.FromResult(new HeartbeatResponse { Known = registry.Heartbeat(request) });
    }

    /// <summary>
    /// Heartbeats on one long-lived call, each answered in order. The token was checked when the call opened; a
    /// request with a bad worker id ends the call with INVALID_ARGUMENT, as the unary call answers it.
    /// </summary>
    public override async Task HeartbeatStream(IAsyncStreamReader<HeartbeatStreamRequest> requestStream, IServerStreamWriter<HeartbeatStreamResponse> responseStream, ServerCallContext context)
    {
        while (await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            var request = requestStream.Current.Heartbeat ?? throw RpcErrors.Invalid("heartbeat is required");
            CheckWorkerId(request.WorkerId);
            var answer = new HeartbeatStreamResponse { Heartbeat = new HeartbeatResponse { Known = registry.Heartbeat(request) } };
            await responseStream.WriteAsync(answer, context.CancellationToken).ConfigureAwait(false);
        }
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
        if (request.PageSize is < 0 or > MaxPageSize)
        {
            throw RpcErrors.Invalid($"page_size {request.PageSize} must be between 1 and {MaxPageSize} (0: {DefaultPageSize})");
        }

        (string, string)? after = null;
        if (request.PageToken.Length > 0)
        {
            try
            {
                var parts = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(request.PageToken)).Split('\0');
                after = parts.Length == 2 ? (parts[0], parts[1]) : throw new FormatException();
            }
            catch (FormatException)
            {
                throw RpcErrors.Invalid("page_token is not one this master gave out (pass next_page_token of the previous page)");
            }
        }

        var size = request.PageSize == 0 ? DefaultPageSize : request.PageSize;
        var problems = new List<string>();
        var where = JobRules.ParseWhere(request.Where, problems);
        if (problems.Count > 0)
        {
            throw RpcErrors.Invalid(string.Join("; ", problems));
        }

        var page = registry.List(request.Pool, after, size + 1, where.Count > 0 ? where : null);
        var response = new ListWorkersResponse();
        response.Workers.AddRange(page.Take(size));
        if (page.Count > size)
        {
            var last = page[size - 1];
            response.NextPageToken = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{last.Pool}\0{last.WorkerId}"));
        }

        return Task.FromResult(response);
    }

    private const int DefaultPageSize = 100;
    private const int MaxPageSize = 1000;
}
