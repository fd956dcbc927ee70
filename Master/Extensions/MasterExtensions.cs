using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Executors;
using DistributedExecutor.Executors.Plugins;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Master.Consumers;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Master.Services;
using DistributedExecutor.Master.Workers;
using DistributedExecutor.Hosting.Bus;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DistributedExecutor.Master.Extensions;

/// <summary>Registration of the master's parts; Program.cs reads as their table of contents.</summary>
internal static class MasterExtensions
{
    /// <summary>Job store, admission, validation (with the same executors and policy the workers use) and the registry.</summary>
    public static IServiceCollection AddJobs(this IServiceCollection services, MasterOptions options, ExecutorOptions policyOptions, PluginCatalog plugins)
    {
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<JobSignals>();
        services.AddSingleton<IJobStore, SqlJobStore>();
        services.AddSingleton<SubmissionValidator>();
        services.AddSingleton(new QueueTopology(options.RabbitMqUrl, options.DeliveryLimit));
        services.AddSingleton(provider => ActivatorUtilities.CreateInstance<BrokerLink>(provider, BrokerLink.Describe(options.RabbitMqUrl)));
        services.AddHostedService(provider => provider.GetRequiredService<BrokerLink>());
        services.AddSingleton<ITaskPublisher, TaskPublisher>();
        services.AddSingleton<TaskDispatcher>();
        services.AddSingleton<JobSubmitter>();
        services.AddSingleton<WorkerRegistry>();
        services.AddSingleton<DutyLease>();
        services.AddHostedService(provider => provider.GetRequiredService<DutyLease>());
        services.AddHostedService<RegistrySync>();
        services.AddHostedService<GoneMasterRecovery>();
        services.AddHostedService<LostWorkerSweeper>();
        services.AddHostedService<StartupRecovery>();
        services.AddSingleton<TaskOutbox>();
        services.AddHostedService(provider => provider.GetRequiredService<TaskOutbox>());
        services.AddHostedService<RetentionService>();
        services.AddHostedService<RetryScheduler>();
        services.AddHostedService<HistoryRecorder>();
        services.AddSingleton(provider => provider.GetRequiredService<IJobStore>().Schedules);
        services.AddSingleton<Schedules.ScheduleRunner>();
        services.AddHostedService(provider => provider.GetRequiredService<Schedules.ScheduleRunner>());

        services.AddExecutors(policyOptions, plugins);
        return services;
    }

    /// <summary>Gauges read when /metrics is scraped: queue depth and running tasks per pool (store), workers alive per pool.</summary>
    public static void ObserveMasterGauges(this IServiceProvider services)
    {
        var metrics = services.GetRequiredService<DistributedExecutor.Hosting.Telemetry.DistexecMetrics>();
        var store = services.GetRequiredService<IJobStore>();
        var registry = services.GetRequiredService<WorkerRegistry>();
        var time = services.GetRequiredService<TimeProvider>();
        static KeyValuePair<string, object?> Pool(string pool) => new("pool", pool);

        // A pool once seen keeps reporting (0 when idle) instead of its series vanishing.
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        // One store query per scrape serves both gauges (the exporter reads them one after the other).
        (DateTimeOffset At, IReadOnlyDictionary<string, (long Queued, long Running)> Counts) last = (DateTimeOffset.MinValue, new Dictionary<string, (long, long)>());
        IEnumerable<(string Pool, long Queued, long Running)> Counts()
        {
            var snapshot = last;
            if (time.GetUtcNow() - snapshot.At > TimeSpan.FromMilliseconds(200))
            {
                last = snapshot = (time.GetUtcNow(), store.PoolCounts());
            }

            var counts = snapshot.Counts;
            foreach (var pool in counts.Keys.Concat(registry.AliveByPool().Keys))
            {
                seen.TryAdd(pool, true);
            }

            return seen.Keys.Order(StringComparer.Ordinal).Select(p => (p, counts.GetValueOrDefault(p).Queued, counts.GetValueOrDefault(p).Running)).ToList();
        }

        var database = Path.GetFullPath(services.GetRequiredService<MasterOptions>().DatabasePath);
        // The file's size and its volume's free space: SQLite's (a PostgreSQL store's are the database server's to watch).
        if (services.GetRequiredService<MasterOptions>().DatabaseUrl is null)
        {
            metrics.ObserveStore(
                () => new[] { database, database + "-wal" }.Sum(f => File.Exists(f) ? new FileInfo(f).Length : 0),
                () => new DriveInfo(Path.GetDirectoryName(database)!).AvailableFreeSpace);
        }

        metrics.ObserveQueueDepth(() => Counts().Select(c => new System.Diagnostics.Metrics.Measurement<long>(c.Queued, Pool(c.Pool))));
        metrics.ObserveTasksRunning(() => Counts().Select(c => new System.Diagnostics.Metrics.Measurement<long>(c.Running, Pool(c.Pool))));
        static KeyValuePair<string, object?> Key(string key) => new("key", key);
        metrics.ObserveConcurrencyKeys(
            () => store.Limits().Select(l => new System.Diagnostics.Metrics.Measurement<long>(l.Holding, Key(l.Key))).ToList(),
            () => store.Limits().Select(l => new System.Diagnostics.Metrics.Measurement<long>(l.Waiting, Key(l.Key))).ToList());
        metrics.ObserveWorkersConnected(() =>
        {
            var alive = registry.AliveByPool();
            return seen.Keys.Concat(alive.Keys).Distinct(StringComparer.Ordinal)
                .Select(p => new System.Diagnostics.Metrics.Measurement<long>(alive.GetValueOrDefault(p).Alive, Pool(p))).ToList();
        });
    }

    /// <summary>
    /// How an event that the store could not take is retried. A full disk holds the event (and, one at a time, every
    /// event behind it) in the broker, tried every 2 s for as long as the disk stays full, so it is applied once
    /// space is freed and never reaches an error queue. Any other store hiccup (a lock held too long) is retried a
    /// few times over 18 s before the event goes to the error queue.
    /// </summary>
    private static void UseStoreRetries(IReceiveEndpointConfigurator endpoint)
    {
        endpoint.UseMessageRetry(r =>
        {
            r.Handle<StoreFullException>();
            r.Incremental(int.MaxValue, TimeSpan.FromSeconds(2), TimeSpan.Zero);
        });
        endpoint.UseMessageRetry(r =>
        {
            r.Ignore<StoreFullException>();
            r.Intervals(100, 500, 2000, 5000, 10000);
        });
    }

    /// <summary>The bus: the master's event queue, plus the workers' endpoints when they are embedded.</summary>
    public static IServiceCollection AddMasterBus(this IServiceCollection services, MasterOptions options, IEmbeddedWorkers? embeddedWorkers)
    {
        services.Configure<MassTransitHostOptions>(o =>
        {
            // The master starts without the broker: it serves reads, health and the dashboard from its store, refuses
            // submissions with a reason, and connects when the broker comes (BrokerLink says when).
            o.WaitUntilStarted = false;
            o.StartTimeout = TimeSpan.FromSeconds(60);
            o.StopTimeout = TimeSpan.FromSeconds(30);
        });
        services.AddMassTransit(bus =>
        {
            bus.AddConsumer<TaskStartedConsumer>();
            bus.AddConsumer<TaskOutputConsumer>();
            bus.AddConsumer<TaskFinishedConsumer>();
            bus.AddConsumer<DeadTaskConsumer>();
            embeddedWorkers?.AddConsumers(bus);

            bus.UseTransport(options.RabbitMqUrl, "distexec-master", (context, cfg) =>
            {
                cfg.ReceiveEndpoint(QueueNames.MasterEvents, e =>
                {
                    // Many at once: the events in flight share one transaction (the store's group commit). Their order
                    // does not matter: each is idempotent, a TaskFinished records its attempt as its TaskStarted would,
                    // and waits for the attempt's output batches it counts (TaskFinishedConsumer).
                    e.PrefetchCount = 256;
                    e.ConcurrentMessageLimit = 64;

                    UseStoreRetries(e);
                    if (e is IRabbitMqReceiveEndpointConfigurator rabbit)
                    {
                        rabbit.SetQuorumQueue();
                    }

                    e.ConfigureConsumer<TaskStartedConsumer>(context);
                    e.ConfigureConsumer<TaskOutputConsumer>(context);
                    e.ConfigureConsumer<TaskFinishedConsumer>(context);
                });
                cfg.ReceiveEndpoint(QueueNames.DeadTasks, e =>
                {
                    e.ConfigureConsumeTopology = false;
                    if (e is IRabbitMqReceiveEndpointConfigurator rabbit)
                    {
                        rabbit.SetQuorumQueue();
                    }

                    UseStoreRetries(e);
                    e.ConfigureConsumer<DeadTaskConsumer>(context);
                });
                embeddedWorkers?.ConfigureEndpoints(context, cfg);
            });
        });
        return services;
    }
}
