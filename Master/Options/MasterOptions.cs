using DistributedExecutor.Hosting.Settings;

namespace DistributedExecutor.Master.Options;

/// <summary>Master settings, read from the environment (the seed's names) and validated at start-up.</summary>
internal sealed class MasterOptions
{
    /// <summary>MASTER_ADDRESS: gRPC listen address.</summary>
    public string MasterAddress { get; set; } = ":50051";

    /// <summary>MAX_CONCURRENT_JOBS: jobs queued or running at once; beyond it submissions get RESOURCE_EXHAUSTED.</summary>
    public int MaxConcurrentJobs { get; set; } = 1000;

    /// <summary>HEARTBEAT_TIMEOUT_SECONDS: a worker silent this long is lost.</summary>
    public int HeartbeatTimeoutSeconds { get; set; } = 15;

    /// <summary>MASTER_DB_PATH: the SQLite job store.</summary>
    public string DatabasePath { get; set; } = "data/master.db";

    /// <summary>MASTER_DB_URL (or MASTER_DB_URL_FILE): a PostgreSQL store (postgres://…) shared by several masters; unset, the SQLite file.</summary>
    public string? DatabaseUrl { get; set; }

    /// <summary>RABBITMQ_URL: the broker. Unset: localhost, or the in-memory bus in embedded mode.</summary>
    public Uri? RabbitMqUrl { get; set; }

    /// <summary>PUBLISH_TIMEOUT_SECONDS: how long a submission waits for the broker before UNAVAILABLE.</summary>
    public int PublishTimeoutSeconds { get; set; } = 10;

    /// <summary>DEFAULT_TASK_TIMEOUT_SECONDS: a task's timeout when its spec sets none.</summary>
    public int DefaultTaskTimeoutSeconds { get; set; } = 1500;

    /// <summary>MAX_TASK_TIMEOUT_SECONDS: the largest timeout a spec may ask for (keep below the broker's consumer_timeout).</summary>
    public int MaxTaskTimeoutSeconds { get; set; } = 1500;

    /// <summary>MAX_TASKS_PER_JOB: tasks one job may carry.</summary>
    public int MaxTasksPerJob { get; set; } = 100_000;

    /// <summary>API_TOKEN (or API_TOKEN_FILE): bearer token clients present. Required to listen beyond loopback.</summary>
    public string? ApiToken { get; set; }

    /// <summary>WORKER_TOKEN (or WORKER_TOKEN_FILE): bearer token workers present; unset, workers present API_TOKEN.</summary>
    public string? WorkerToken { get; set; }

    /// <summary>TOKENS_FILE: named tokens with roles (who submitted and who canceled each job is recorded by name).</summary>
    public IReadOnlyList<Services.NamedToken> Tokens { get; set; } = [];

    /// <summary>Whether calls need a token at all (API_TOKEN or TOKENS_FILE): required to listen beyond loopback.</summary>
    public bool Authenticated => ApiToken is not null || Tokens.Count > 0;

    /// <summary>TLS_CERT_FILE and TLS_KEY_FILE: serve gRPC over TLS.</summary>
    public TlsOptions? Tls { get; set; }

    /// <summary>MASTER_HTTP_ADDRESS: /metrics, /healthz, /readyz, /ui and the JSON API (null: "off").</summary>
    public ListenAddress? HttpAddress { get; set; }

    /// <summary>JOB_RETENTION_HOURS: finished jobs and their output are removed this long after they end.</summary>
    public double JobRetentionHours { get; set; } = 168;

    /// <summary>TASK_DELIVERY_LIMIT: deliveries of one task message before the broker gives up on it (the task queues' x-delivery-limit; the workers read the same setting).</summary>
    public int DeliveryLimit { get; set; } = 5;

    /// <summary>LOST_WORKER_RETENTION_SECONDS: a lost worker stays listed this long, then leaves the registry.</summary>
    public int LostWorkerRetentionSeconds { get; set; } = 3600;

    /// <summary>MAX_REQUEST_BYTES: the largest request body (gRPC message or JSON) the master reads; room for 100,000 small tasks.</summary>
    public int MaxRequestBytes { get; set; } = DefaultMaxRequestBytes;

    public const int DefaultMaxRequestBytes = 16 * 1024 * 1024;

    /// <summary>HISTORY_INTERVAL_SECONDS: the dashboard's history records a point this often (kept a day).</summary>
    public int HistoryIntervalSeconds { get; set; } = 60;

    /// <summary>SCHEDULE_GRACE_SECONDS: a schedule's tick fired later than this (the master was down) is a missed fire, handled by its missed-fire policy.</summary>
    public int ScheduleGraceSeconds { get; set; } = 60;

    /// <summary>EMBEDDED_WORKERS: workers run inside the master process (development).</summary>
    public int EmbeddedWorkers { get; set; }

    /// <summary>LOG_FORMAT=json: one JSON object per log line.</summary>
    public bool JsonLogs { get; set; }

    /// <summary>LOG_LEVEL: debug, info, warn or error.</summary>
    public LogLevel LogLevel { get; set; } = LogLevel.Information;

    public static MasterOptions Load(SettingsReader settings)
    {
        var defaults = new MasterOptions();
        var options = new MasterOptions
        {
            MasterAddress = settings.Address("MASTER_ADDRESS", defaults.MasterAddress),
            LogLevel = settings.LogLevel(),
            JsonLogs = settings.JsonLogs(),
            MaxConcurrentJobs = settings.Int("MAX_CONCURRENT_JOBS", defaults.MaxConcurrentJobs, 1, 10_000_000),
            HeartbeatTimeoutSeconds = settings.Int("HEARTBEAT_TIMEOUT_SECONDS", defaults.HeartbeatTimeoutSeconds, 1, 86_400),
            DatabasePath = settings.String("MASTER_DB_PATH", defaults.DatabasePath),
            DatabaseUrl = settings.Secret("MASTER_DB_URL"),
            RabbitMqUrl = settings.AmqpUri("RABBITMQ_URL"),
            PublishTimeoutSeconds = settings.Int("PUBLISH_TIMEOUT_SECONDS", defaults.PublishTimeoutSeconds, 1, 600),
            DefaultTaskTimeoutSeconds = settings.Int("DEFAULT_TASK_TIMEOUT_SECONDS", defaults.DefaultTaskTimeoutSeconds, 1, 604_800),
            MaxTaskTimeoutSeconds = settings.Int("MAX_TASK_TIMEOUT_SECONDS", defaults.MaxTaskTimeoutSeconds, 1, 604_800),
            MaxTasksPerJob = settings.Int("MAX_TASKS_PER_JOB", defaults.MaxTasksPerJob, 1, 1_000_000),
            ApiToken = settings.Token("API_TOKEN"),
            WorkerToken = settings.Token("WORKER_TOKEN"),
            DeliveryLimit = settings.Int("TASK_DELIVERY_LIMIT", defaults.DeliveryLimit, 1, 1_000),
            LostWorkerRetentionSeconds = settings.Int("LOST_WORKER_RETENTION_SECONDS", defaults.LostWorkerRetentionSeconds, 0, 30 * 86_400),
            MaxRequestBytes = settings.Int("MAX_REQUEST_BYTES", defaults.MaxRequestBytes, 64 * 1024, 1024 * 1024 * 1024),
            Tls = TlsOptions.Load(settings),
            EmbeddedWorkers = settings.Int("EMBEDDED_WORKERS", 0, 0, 64),
            HistoryIntervalSeconds = settings.Int("HISTORY_INTERVAL_SECONDS", defaults.HistoryIntervalSeconds, 1, 3600),
            ScheduleGraceSeconds = settings.Int("SCHEDULE_GRACE_SECONDS", defaults.ScheduleGraceSeconds, 1, 86_400),
            JobRetentionHours = settings.Double("JOB_RETENTION_HOURS", defaults.JobRetentionHours, 0.0001, 24 * 365 * 100),
        };

        if (settings.ExistingFile("TOKENS_FILE") is { } tokensFile)
        {
            var problems = new List<string>();
            options.Tokens = Services.NamedTokens.Parse(File.ReadAllText(tokensFile), $"TOKENS_FILE {tokensFile}", problems);
            problems.ForEach(settings.Fail);
            foreach (var (name, token) in (ReadOnlySpan<(string, string?)>)[("API_TOKEN", options.ApiToken), ("WORKER_TOKEN", options.WorkerToken)])
            {
                var sha = token is null ? null : System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token));
                if (sha is not null && options.Tokens.FirstOrDefault(t => t.Sha256.AsSpan().SequenceEqual(sha)) is { } same)
                {
                    settings.Fail($"{name} is the token of {same.Name} in TOKENS_FILE: each token needs one name");
                }
            }
        }

        options.HttpAddress = settings.HttpAddress("MASTER_HTTP_ADDRESS", ":8080", options.Authenticated, "API_TOKEN or TOKENS_FILE");

        if (options.DatabaseUrl is { } databaseUrl)
        {
            try
            {
                Jobs.Store.PostgresBackend.ConnectionString(databaseUrl);
            }
            catch (FormatException ex)
            {
                settings.Fail(ex.Message);
            }
        }

        if (options.DefaultTaskTimeoutSeconds > options.MaxTaskTimeoutSeconds)
        {
            settings.Fail($"DEFAULT_TASK_TIMEOUT_SECONDS={options.DefaultTaskTimeoutSeconds} exceeds MAX_TASK_TIMEOUT_SECONDS={options.MaxTaskTimeoutSeconds}");
        }

        if (ListenAddress.TryParse(options.MasterAddress, out var address, out _) && !address.IsLoopback && !options.Authenticated)
        {
            settings.Fail($"MASTER_ADDRESS={options.MasterAddress} listens beyond loopback without authentication: set API_TOKEN (and WORKER_TOKEN) or TOKENS_FILE, or listen on 127.0.0.1 / localhost");
        }

        if (options.ApiToken is not null && options.ApiToken == options.WorkerToken)
        {
            settings.Fail("WORKER_TOKEN equals API_TOKEN: give workers a token of their own (or leave WORKER_TOKEN unset)");
        }

        return options;
    }
}
