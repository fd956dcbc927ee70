using System.Reflection;
using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.Security;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Executors;
using DistributedExecutor.Executors.Plugins;
using DistributedExecutor.Hosting.Bus;
using DistributedExecutor.Hosting.Settings;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Worker.Consumers;
using DistributedExecutor.Worker.ControlPlane;
using DistributedExecutor.Worker.Options;
using DistributedExecutor.Worker.Running;
using Grpc.Core;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DistributedExecutor.Worker.Extensions;

/// <summary>Registration of the worker's parts, shared by the worker process and the embedded host.</summary>
internal static class WorkerExtensions
{
    /// <summary>Executors, running-task tracking, the worker identities and the link to the master.</summary>
    public static IServiceCollection AddWorkerRuntime(this IServiceCollection services, WorkerOptions options, PluginCatalog plugins, IReadOnlyList<string> workerIds)
    {
        services.AddSingleton(options);
        services.AddExecutors(options.Executors, plugins);
        services.AddSingleton(new WorkerNodes(workerIds.Select(id => new WorkerNode(id, options.MaxConcurrentTasks)).ToList()));
        services.TryAddSingleton<RunningTasks>();
        services.TryAddSingleton<DistexecMetrics>();

        var masterUri = ListenAddress.Parse(options.MasterAddress).ToClientUri(tls: options.MasterCaCertFile is not null);
        services.AddGrpcClient<WorkerService.WorkerServiceClient>(o => o.Address = masterUri)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                SslOptions = { RemoteCertificateValidationCallback = CertificateTrust.Callback(options.MasterCaCertFile) },
                EnableMultipleHttp2Connections = true,
            })
            .AddCallCredentials((_, metadata) =>
            {
                if (options.ApiToken is { } token)
                {
                    metadata.Add("authorization", $"Bearer {token}");
                }

                return Task.CompletedTask;
            })
            .ConfigureChannel(c => c.UnsafeUseInsecureChannelCallCredentials = true);
        services.AddHostedService<MasterLinkService>();
        return services;
    }

    public static void AddWorkerConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<ExecuteTaskConsumer, ExecuteTaskConsumerDefinition>();
        bus.AddConsumer<CancelTaskConsumer>();
    }

    /// <summary>The pool's task queues (high, normal, low; prefetch = capacity each), the worker's own queue and a per-process queue that hears every cancel.</summary>
    public static void ConfigureWorkerEndpoints(this IBusFactoryConfigurator cfg, IBusRegistrationContext context, WorkerOptions options)
    {
        var capacity = context.GetRequiredService<WorkerNodes>().TotalCapacity;
        // One queue per priority, each prefetching up to the capacity; the tasks share the capacity's slots (PrioritySlots).
        foreach (var priority in TaskPriority.All)
        {
            cfg.ReceiveEndpoint(QueueNames.Tasks(options.Pool, priority), e =>
            {
                e.PrefetchCount = capacity;
                e.ConfigureConsumeTopology = false;
                QueueTopology.ConfigureTaskQueue(e, options.DeliveryLimit);
                e.ConfigureConsumer<ExecuteTaskConsumer>(context);
            });
        }
        if (options.WorkerAddress != WorkerOptions.EmbeddedAddress)
        {
            // Fan-out tasks addressed to this worker alone. The queue outlives a restart (same WORKER_ID) but not a
            // day without a consumer, so ids of pods long gone do not pile up on the broker.
            cfg.ReceiveEndpoint(QueueNames.Worker(options.WorkerId), e =>
            {
                // One at a time: a fan-out task may take one slot beside a full pool load.
                e.PrefetchCount = 1;
                e.ConcurrentMessageLimit = 1;
                e.ConfigureConsumeTopology = false;
                QueueTopology.ConfigureTaskQueue(e, options.DeliveryLimit, expiresUnused: TimeSpan.FromDays(1));

                e.ConfigureConsumer<ExecuteTaskConsumer>(context);
            });
        }

        cfg.ReceiveEndpoint(new TemporaryEndpointDefinition("distexec-cancel"), e =>
        {
            e.ConfigureConsumer<CancelTaskConsumer>(context);
        });
    }

    /// <summary>
    /// SIGTERM: stop taking messages, let running tasks finish for the drain period, then cancel the rest
    /// (their messages go back to the queue).
    /// </summary>
    public static IServiceCollection AddDrain(this IServiceCollection services, WorkerOptions options)
    {
        var drain = TimeSpan.FromSeconds(options.DrainTimeoutSeconds);
        services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = false;
            o.ConsumerStopTimeout = drain;
            o.StopTimeout = drain + TimeSpan.FromSeconds(options.Executors.KillGraceSeconds + 10);
        });
        services.Configure<HostOptions>(o => o.ShutdownTimeout = drain + TimeSpan.FromSeconds(options.Executors.KillGraceSeconds + 20));
        return services;
    }
}
