using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Executors;
using DistributedExecutor.Executors.Isolation;
using DistributedExecutor.Worker.Options;
using DistributedExecutor.Worker.Running;
using Grpc.Core;

namespace DistributedExecutor.Worker.ControlPlane;

/// <summary>
/// Registers each worker identity with the master and heartbeats it. The master being away does not stop
/// work (tasks come from the broker); the link simply keeps trying.
/// </summary>
internal sealed partial class MasterLinkService(
    WorkerService.WorkerServiceClient client,
    WorkerNodes nodes,
    WorkerOptions options,
    ExecutorRegistry executors,
    TaskIsolation isolation,
    MassTransit.IBusControl bus,
    TimeProvider time,
    ILogger<MasterLinkService> logger) : BackgroundService
{
    private readonly HeartbeatLink _heartbeats = new(client, options.MasterAddress, logger);

    /// <summary>This process's instance: the master binds each of its worker ids to it while it is alive.</summary>
    private readonly string _instance = Guid.NewGuid().ToString("N");

    /// <summary>HEARTBEAT_INTERVAL_SECONDS, shortened to what the master asks for at registration.</summary>
    private TimeSpan _interval = TimeSpan.FromSeconds(options.HeartbeatIntervalSeconds);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Registered only once this worker's queues are bound: the master sends fan-out tasks to any worker it lists
        // as alive, and a message reaching the worker's exchange before its queue is bound would be dropped.
        await MassTransit.BusControlHealthExtensions.WaitForHealthStatus(bus, MassTransit.BusHealthStatus.Healthy, stoppingToken).ConfigureAwait(false);

        var registered = new HashSet<string>();
        var failing = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                foreach (var node in nodes.All)
                {
                    if (!registered.Contains(node.Id))
                    {
                        await RegisterAsync(node, stoppingToken).ConfigureAwait(false);
                        registered.Add(node.Id);
                    }

                    var known = await _heartbeats.SendAsync(
                        new HeartbeatRequest { WorkerId = node.Id, RunningTasks = node.Running, Draining = node.Draining, InstanceId = _instance },
                        stoppingToken).ConfigureAwait(false);
                    if (!known)
                    {
                        registered.Remove(node.Id);
                    }
                }

                if (failing)
                {
                    LogReconnected(options.MasterAddress);
                    failing = false;
                }
            }
            catch (RpcException ex) when (!stoppingToken.IsCancellationRequested)
            {
                if (!failing)
                {
                    LogUnreachable(options.MasterAddress, ex.Status.StatusCode, ex.Status.Detail);
                    failing = true;
                }

                registered.Clear();
            }

            try
            {
                await Task.Delay(failing ? TimeSpan.FromSeconds(1) : _interval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        // A last heartbeat says "draining" so the master's view is right while tasks finish.
        foreach (var node in nodes.All)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1), time);
                await _heartbeats.SendAsync(
                    new HeartbeatRequest { WorkerId = node.Id, RunningTasks = node.Running, Draining = true, InstanceId = _instance },
                    cts.Token).ConfigureAwait(false);
            }
            catch (RpcException)
            {
            }
        }

        _heartbeats.Close();
    }

    private async Task RegisterAsync(WorkerNode node, CancellationToken cancellationToken)
    {
        var request = new RegisterWorkerRequest
        {
            WorkerId = node.Id,
            Pool = options.Pool,
            Capacity = node.Capacity,
            Address = options.WorkerAddress,
            InstanceId = _instance,
            TaskIsolation = isolation.Description,
        };
        request.Executors.AddRange(executors.Names);
        request.Labels.Add(options.Labels);
        var reply = await client.RegisterWorkerAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false);
        // The master says how often it needs to hear from us (a third of its timeout); never slower than that.
        if (reply.HeartbeatInterval?.ToTimeSpan() is { } wanted && wanted > TimeSpan.Zero && wanted < _interval)
        {
            _interval = wanted;
        }

        LogRegistered(node.Id, options.Pool, node.Capacity);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered worker {WorkerId} in pool {Pool} with capacity {Capacity}")]
    private partial void LogRegistered(string workerId, string pool, int capacity);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Master at {MasterAddress} unreachable ({Status}: {Detail}); tasks still run, heartbeats retry every second")]
    private partial void LogUnreachable(string masterAddress, StatusCode status, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Master at {MasterAddress} reachable again")]
    private partial void LogReconnected(string masterAddress);
}
