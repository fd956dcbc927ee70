using DistributedExecutor.Contracts.Naming;
using DistributedExecutor.Executors;
using DistributedExecutor.Hosting.Settings;

namespace DistributedExecutor.Worker.Options;

/// <summary>Worker settings, read from the environment (the seed's names) and validated at start-up.</summary>
internal sealed class WorkerOptions
{
    /// <summary>WORKER_ID: unique worker id; default the hostname.</summary>
    public string WorkerId { get; set; } = Environment.MachineName;

    /// <summary>The WORKER_ADDRESS of workers inside the master's process: they listen on nothing of their own.</summary>
    public const string EmbeddedAddress = "embedded";

    /// <summary>WORKER_ADDRESS: where the worker serves gRPC health.</summary>
    public string WorkerAddress { get; set; } = ":50052";

    /// <summary>WORKER_HTTP_ADDRESS: /metrics, /healthz and /readyz (null: "off").</summary>
    public ListenAddress? HttpAddress { get; set; }

    /// <summary>MASTER_ADDRESS: the master to register and heartbeat with.</summary>
    public string MasterAddress { get; set; } = "";

    /// <summary>WORKER_POOL: the pool whose queue this worker consumes.</summary>
    public string Pool { get; set; } = "default";

    /// <summary>WORKER_LABELS: "zone=a,disk=ssd", what --all-workers --where picks this worker by.</summary>
    public Dictionary<string, string> Labels { get; set; } = new(StringComparer.Ordinal);

    /// <summary>MAX_CONCURRENT_TASKS: tasks run at once (also the broker prefetch).</summary>
    public int MaxConcurrentTasks { get; set; } = 10;

    /// <summary>DRAIN_TIMEOUT_SECONDS: on SIGTERM, how long running tasks may finish before they are given back.</summary>
    public int DrainTimeoutSeconds { get; set; } = 30;

    /// <summary>OUTPUT_CAP_BYTES: output kept per stream of a task.</summary>
    public long OutputCapBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>HEARTBEAT_INTERVAL_SECONDS: how often the worker heartbeats.</summary>
    public int HeartbeatIntervalSeconds { get; set; } = 3;

    /// <summary>WORKER_TOKEN (or _FILE), else API_TOKEN (or _FILE): the bearer token this worker presents to the master.</summary>
    public string? ApiToken { get; set; }

    /// <summary>MASTER_CA_CERT_FILE: PEM CA (or the master's own certificate) to trust for a TLS master.</summary>
    public string? MasterCaCertFile { get; set; }

    /// <summary>TLS_CERT_FILE and TLS_KEY_FILE: serve the worker's gRPC (health) over TLS.</summary>
    public TlsOptions? Tls { get; set; }

    /// <summary>RABBITMQ_URL: the broker (amqp://user:pass@host:port/vhost). Unset in a worker: localhost.</summary>
    public Uri? RabbitMqUrl { get; set; }

    /// <summary>TASK_DELIVERY_LIMIT: deliveries of one task message before the broker gives up on it.</summary>
    public int DeliveryLimit { get; set; } = 5;

    /// <summary>The executors' settings (EXECUTOR_*, TASK_USER, TASK_CONTAINMENT, KILL_GRACE_SECONDS).</summary>
    public ExecutorOptions Executors { get; set; } = new();

    /// <summary>WORKER_IDLE_EXIT_SECONDS: stop after this long with nothing to run (for workers run as Jobs); 0 never.</summary>
    public int IdleExitSeconds { get; set; }

    /// <summary>Reads every setting, collecting all problems.</summary>
    /// <summary>LOG_FORMAT=json: one JSON object per log line.</summary>
    public bool JsonLogs { get; set; }

    /// <summary>LOG_LEVEL: debug, info, warn or error.</summary>
    public LogLevel LogLevel { get; set; } = LogLevel.Information;

    public static WorkerOptions Load(SettingsReader settings, bool requireMaster)
    {
        var defaults = new WorkerOptions();
        var options = new WorkerOptions
        {
            WorkerId = settings.String("WORKER_ID", defaults.WorkerId),
            LogLevel = settings.LogLevel(),
            JsonLogs = settings.JsonLogs(),
            WorkerAddress = settings.Address("WORKER_ADDRESS", defaults.WorkerAddress),
            MasterAddress = settings.String("MASTER_ADDRESS", defaults.MasterAddress),
            Pool = settings.String("WORKER_POOL", defaults.Pool),
            MaxConcurrentTasks = settings.Int("MAX_CONCURRENT_TASKS", defaults.MaxConcurrentTasks, 1, 10_000),
            DrainTimeoutSeconds = settings.Int("DRAIN_TIMEOUT_SECONDS", defaults.DrainTimeoutSeconds, 0, 86_400),
            OutputCapBytes = settings.Long("OUTPUT_CAP_BYTES", defaults.OutputCapBytes, 1024, 1L << 34),
            HeartbeatIntervalSeconds = settings.Int("HEARTBEAT_INTERVAL_SECONDS", defaults.HeartbeatIntervalSeconds, 1, 3_600),
            ApiToken = settings.Token("WORKER_TOKEN") ?? settings.Token("API_TOKEN"),
            MasterCaCertFile = settings.ExistingFile("MASTER_CA_CERT_FILE"),
            Tls = TlsOptions.Load(settings),
            RabbitMqUrl = settings.AmqpUri("RABBITMQ_URL"),
            DeliveryLimit = settings.Int("TASK_DELIVERY_LIMIT", defaults.DeliveryLimit, 1, 1_000),
            Executors = ExecutorOptions.Load(settings),
            IdleExitSeconds = settings.Int("WORKER_IDLE_EXIT_SECONDS", 0, 0, 86_400),
        };

        if (!PoolName.IsValid(options.Pool))
        {
            settings.Fail($"WORKER_POOL={options.Pool}: {PoolName.Rule}");
        }

        foreach (var pair in (settings.OptionalString("WORKER_LABELS") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !NameRules.IsValidLabelKey(pair[..eq]) || !options.Labels.TryAdd(pair[..eq], pair[(eq + 1)..]))
            {
                settings.Fail($"WORKER_LABELS: \"{pair}\" is not key=value ({NameRules.LabelKeyRule}; each key once), as in WORKER_LABELS=zone=a,disk=ssd");
            }
        }

        if (requireMaster)
        {
            options.HttpAddress = settings.HttpAddress("WORKER_HTTP_ADDRESS", ":8081", options.ApiToken is not null, "WORKER_TOKEN");
            if (options.MasterAddress.Length == 0)
            {
                settings.Fail("MASTER_ADDRESS is required (for example localhost:50051)");
            }
            else if (!ListenAddress.TryParse(options.MasterAddress, out _, out var error))
            {
                settings.Fail($"MASTER_ADDRESS={options.MasterAddress}: {error}");
            }
        }

        return options;
    }
}
