using DistributedExecutor.Cli;
using DistributedExecutor.Contracts.V1;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace DistributedExecutor.Tests.Fixtures;

/// <summary>
/// A real deployment on this machine: bin/master and bin/worker processes on free loopback ports, a private
/// SQLite file, and the shared test RabbitMQ under a virtual host of its own. Tests drive it with
/// bin/distctl or a gRPC client, as users would.
/// </summary>
public sealed class Cluster : IAsyncDisposable
{
    private readonly List<ChildProcess> _workers = [];
    private readonly Dictionary<string, string?> _masterEnvironment;
    private readonly string _dataDir;
    private MasterConnection? _connection;

    private Cluster(RabbitMqBroker broker, Uri brokerUrl, Dictionary<string, string?> masterEnvironment, string dataDir, int masterPort, int httpPort)
    {
        HttpPort = httpPort;
        Broker = broker;
        BrokerUrl = brokerUrl;
        _masterEnvironment = masterEnvironment;
        _dataDir = dataDir;
        MasterPort = masterPort;
    }

    public RabbitMqBroker Broker { get; }

    /// <summary>The broker URL this cluster uses (its own virtual host where the broker allows).</summary>
    public Uri BrokerUrl { get; }

    public int MasterPort { get; }

    /// <summary>The master's HTTP port (MASTER_HTTP_ADDRESS): /metrics, /healthz, /readyz, /ui, the JSON API.</summary>
    public int HttpPort { get; }

    public Uri HttpBase => new($"{(_tlsCa is null ? "http" : "https")}://127.0.0.1:{HttpPort}/");

    /// <summary>The master's /metrics page as scraped (the exporter may serve it from a short cache).</summary>
    public async Task<string> MetricsAsync()
    {
        using var http = new HttpClient { BaseAddress = HttpBase };
        return await http.GetStringAsync(new Uri("metrics", UriKind.Relative));
    }

    /// <summary>Each worker's HTTP port (WORKER_HTTP_ADDRESS), by worker id.</summary>
    public Dictionary<string, int> WorkerHttpPorts { get; } = [];

    /// <summary>Each worker's gRPC health port (WORKER_ADDRESS), by worker id.</summary>
    public Dictionary<string, int> WorkerGrpcPorts { get; } = [];

    public string MasterAddress => _tlsCa is null ? $"127.0.0.1:{MasterPort}" : $"https://127.0.0.1:{MasterPort}";

    /// <summary>The certificate clients trust when the master serves TLS (the cluster's TLS_CERT_FILE).</summary>
    private string? _tlsCa => _masterEnvironment.GetValueOrDefault("TLS_CERT_FILE");

    public string DatabasePath => Path.Combine(_dataDir, "master.db");

    public ChildProcess? Master { get; private set; }

    public IReadOnlyList<ChildProcess> Workers => _workers;

    public JobService.JobServiceClient Jobs => Connection.Jobs;

    public WorkerService.WorkerServiceClient WorkerControl => Connection.Workers;

    public ScheduleService.ScheduleServiceClient Schedules => Connection.Schedules;

    /// <summary>The same connection distctl makes (with the API token when the cluster has one).</summary>
    private MasterConnection Connection => _connection ??= new MasterConnection(ClientAddress, _masterEnvironment.GetValueOrDefault("API_TOKEN"), _tlsCa);

    private string? _front;

    /// <summary>Where this cluster's clients (the test's, distctl) reach a master: the master, or a front over several.</summary>
    public string ClientAddress => _front ?? MasterAddress;

    /// <summary>From now on clients reach the masters through <paramref name="address"/> (a <see cref="TcpFront"/> over several).</summary>
    public void ReachThrough(string address)
    {
        _front = address;
        _connection?.Dispose();
        _connection = null;
    }

    /// <summary>Starts a master and <paramref name="workers"/> workers; extra settings go to every process.</summary>
    public static async Task<Cluster> StartAsync(int workers, IReadOnlyDictionary<string, string>? settings = null, string pool = "default", RabbitMqBroker? broker = null)
    {
        broker ??= await RabbitMqBroker.Shared;
        var dataDir = Directory.CreateTempSubdirectory("distexec-cluster-").FullName;
        var port = FreePort.Next();
        var httpPort = FreePort.Next();
        var brokerUrl = await broker.IsolatedUrlAsync($"cluster-{port}");
        var environment = new Dictionary<string, string?>
        {
            ["RABBITMQ_URL"] = brokerUrl.ToString(),
            ["MASTER_ADDRESS"] = $"127.0.0.1:{port}",
            ["MASTER_HTTP_ADDRESS"] = $"127.0.0.1:{httpPort}",
            ["MASTER_DB_PATH"] = Path.Combine(dataDir, "master.db"),
            ["HEARTBEAT_TIMEOUT_SECONDS"] = "5",
            ["LOG_LEVEL"] = "info",
            ["EMBEDDED_WORKERS"] = null,
            ["API_TOKEN"] = null,
            ["WORKER_TOKEN"] = null,
            ["TLS_CERT_FILE"] = null,
            ["TLS_KEY_FILE"] = null,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        var cluster = new Cluster(broker, brokerUrl, environment, dataDir, port, httpPort);
        try
        {
            await cluster.StartMasterAsync();
            for (var i = 0; i < workers; i++)
            {
                cluster.StartWorker($"w{i + 1}-{port}", pool);
            }

            await cluster.WaitForWorkersAsync(workers, pool);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts bin/master and waits until it is ready (gRPC health of the default service: store and broker), or with
    /// <paramref name="live"/> only until it answers (the "liveness" service: the process, whatever the broker).
    /// </summary>
    public async Task StartMasterAsync(bool live = false)
    {
        Master = ChildProcess.Start("master", RepoPaths.Bin("master"), [], _masterEnvironment);
        var master = Master;
        await Eventually.Until(
            async () => master.HasExited ? HealthCheckResponse.Types.ServingStatus.Unknown : await MasterHealthAsync(live ? "liveness" : ""),
            status => status == HealthCheckResponse.Types.ServingStatus.Serving || master.HasExited,
            TimeSpan.FromSeconds(60), $"master health{(live ? " (liveness)" : "")} SERVING");
        if (master.HasExited)
        {
            // Say why at once instead of waiting out the deadline.
            throw new InvalidOperationException($"master exited with {master.ExitCode}:\n{master.Output}");
        }
    }

    /// <summary>
    /// Another master on the same store and broker (a store shared by several masters: MASTER_DB_URL), with ports of
    /// its own; ready when returned. The caller disposes it.
    /// </summary>
    /// <param name="port">The port of one that was stopped (a restart), else a new one.</param>
    public async Task<OtherMaster> StartAnotherMasterAsync(int? port = null)
    {
        port ??= FreePort.Next();
        var environment = new Dictionary<string, string?>(_masterEnvironment)
        {
            ["MASTER_ADDRESS"] = $"127.0.0.1:{port}",
            ["MASTER_HTTP_ADDRESS"] = $"127.0.0.1:{FreePort.Next()}",
        };
        var process = ChildProcess.Start($"master-{port}", RepoPaths.Bin("master"), [], environment);
        var other = new OtherMaster(process, $"127.0.0.1:{port}", port.Value);
        await Eventually.Until(
            async () => process.HasExited ? HealthCheckResponse.Types.ServingStatus.Unknown : await HealthAsync(other.Address),
            status => status == HealthCheckResponse.Types.ServingStatus.Serving || process.HasExited,
            TimeSpan.FromSeconds(60), "second master health SERVING");
        if (process.HasExited)
        {
            throw new InvalidOperationException($"master exited with {process.ExitCode}:\n{process.Output}");
        }

        return other;

        static async Task<HealthCheckResponse.Types.ServingStatus> HealthAsync(string address)
        {
            try
            {
                using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://{address}");
                var health = new Health.HealthClient(channel);
                return (await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(5))).Status;
            }
            catch (Grpc.Core.RpcException)
            {
                return HealthCheckResponse.Types.ServingStatus.Unknown;
            }
        }
    }

    /// <summary>The master's gRPC health for <paramref name="service"/> ("" readiness, "liveness").</summary>
    public async Task<HealthCheckResponse.Types.ServingStatus> MasterHealthAsync(string service)
    {
        using var connection = new MasterConnection(MasterAddress, null, _tlsCa);
        var health = new Health.HealthClient(connection.Channel);
        return (await health.CheckAsync(new HealthCheckRequest { Service = service }, deadline: DateTime.UtcNow.AddSeconds(2))).Status;
    }

    /// <summary>
    /// Starts bin/worker as worker <paramref name="id"/>; with <paramref name="through"/> it runs under that program
    /// (setpriv with its options, to start it as another user or without capabilities).
    /// </summary>
    /// <summary>Starts a worker process (bin/worker, or <paramref name="program"/>: a copy of it), optionally through a wrapper.</summary>
    public ChildProcess StartWorker(string id, string pool = "default", IReadOnlyDictionary<string, string>? settings = null, IReadOnlyList<string>? through = null, string? program = null)
    {
        program ??= RepoPaths.Bin("worker");
        var environment = new Dictionary<string, string?>(_masterEnvironment)
        {
            ["WORKER_ID"] = id,
            ["WORKER_POOL"] = pool,
            ["WORKER_ADDRESS"] = $"127.0.0.1:{WorkerGrpcPorts[id] = FreePort.Next()}",
            ["HEARTBEAT_INTERVAL_SECONDS"] = "1",
            ["WORKER_HTTP_ADDRESS"] = $"127.0.0.1:{WorkerHttpPorts[id] = FreePort.Next()}",
        };
        if (_tlsCa is not null)
        {
            environment["MASTER_ADDRESS"] = MasterAddress;
            environment["MASTER_CA_CERT_FILE"] = _tlsCa;
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        var worker = through is { Count: > 0 }
            ? ChildProcess.Start(id, through[0], [.. through.Skip(1), program], environment)
            : ChildProcess.Start(id, program, [], environment);
        _workers.Add(worker);
        return worker;
    }

    public async Task WaitForWorkersAsync(int alive, string pool = "default")
    {
        try
        {
            await Eventually.Until(
                async () => (await WorkerControl.ListWorkersAsync(new ListWorkersRequest { Pool = pool })).Workers.Count(w => w.State == WorkerState.Alive),
                count => count >= alive,
                TimeSpan.FromSeconds(60), $"{alive} workers of pool {pool} alive");
        }
        catch (TimeoutException ex)
        {
            // Which worker is missing, and what it and the master said: a worker that never shows up is otherwise a mystery.
            var listed = (await WorkerControl.ListWorkersAsync(new ListWorkersRequest { Pool = pool })).Workers.Select(w => $"{w.WorkerId}={w.State}");
            throw new TimeoutException($"{ex.Message}; listed: {string.Join(", ", listed)}\n{Logs()}", ex);
        }
    }

    /// <summary>Runs bin/distctl against this cluster's master.</summary>
    public async Task<CliResult> DistctlAsync(params string[] args) =>
        await ProcessRunner.RunAsync(RepoPaths.Bin("distctl"), args, new Dictionary<string, string?>
        {
            ["MASTER_ADDRESS"] = ClientAddress,
            ["API_TOKEN"] = null,
            ["DISTEXEC_TOKEN"] = null,
            ["DISTEXEC_TOKEN_FILE"] = null,
            ["DISTEXEC_CA_CERT"] = null,
        });

    public Task<Job> WaitForJobAsync(string jobId, TimeSpan timeout) =>
        WaitForJobAsync(jobId, job => DistributedExecutor.Master.Jobs.TaskRules.IsTerminal(job.State), timeout, $"job {jobId} to finish");

    /// <summary>Polls the job until <paramref name="until"/> holds, at most <paramref name="timeout"/>.</summary>
    public async Task<Job> WaitForJobAsync(string jobId, Func<Job, bool> until, TimeSpan timeout, string what) =>
        await Eventually.Until(async () => (await Jobs.GetJobAsync(new GetJobRequest { JobId = jobId })).Job, until, timeout, what);

    /// <summary>A finished job's output per task index, stdout and stderr apart.</summary>
    public async Task<Dictionary<int, (string Stdout, string Stderr)>> OutputAsync(string jobId)
    {
        var byTask = new Dictionary<int, (System.Text.StringBuilder Out, System.Text.StringBuilder Err)>();
        using var call = Jobs.WatchJob(new WatchJobRequest { JobId = jobId, Follow = false });
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            var message = call.ResponseStream.Current;
            if (message.EventCase != WatchJobResponse.EventOneofCase.Output)
            {
                continue;
            }

            if (!byTask.TryGetValue(message.Output.TaskIndex, out var texts))
            {
                byTask[message.Output.TaskIndex] = texts = (new(), new());
            }

            (message.Output.Stream == OutputStream.Stderr ? texts.Err : texts.Out).Append(message.Output.Data.ToStringUtf8());
        }

        return byTask.ToDictionary(p => p.Key, p => (p.Value.Out.ToString(), p.Value.Err.ToString()));
    }

    /// <summary>Jobs in the master's store, counting only those the broker confirmed when asked.</summary>
    public long StoredJobs(bool acceptedOnly = false) =>
        (long)StoreScalar(acceptedOnly ? "SELECT COUNT(*) FROM jobs WHERE accepted = 1" : "SELECT COUNT(*) FROM jobs")!;

    /// <summary>Rows from the master's store, read-only, each read by <paramref name="read"/> (either store).</summary>
    public List<T> StoreRows<T>(string sql, Func<System.Data.Common.DbDataReader, T> read)
    {
        using System.Data.Common.DbConnection db = _masterEnvironment.GetValueOrDefault("MASTER_DB_URL") is { Length: > 0 } url
            ? new Npgsql.NpgsqlConnection(PostgresServer.ConnectionString(new Uri(url)))
            : new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly");
        db.Open();
        using var query = db.CreateCommand();
        query.CommandText = sql;
        using var reader = query.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    /// <summary>One value from the master's store, read-only (PRAGMA integrity_check, counts); SQLite's spelling ($name), either store.</summary>
    public object? StoreScalar(string sql, params (string Name, object Value)[] parameters)
    {
        if (_masterEnvironment.GetValueOrDefault("MASTER_DB_URL") is { Length: > 0 } url)
        {
            using var pg = new Npgsql.NpgsqlConnection(PostgresServer.ConnectionString(new Uri(url)));
            pg.Open();
            using var command = pg.CreateCommand();
            command.CommandText = System.Text.RegularExpressions.Regex.Replace(sql, @"\$([a-z_]+)", "@$1");
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name.TrimStart('$'), value);
            }

            return command.ExecuteScalar();
        }

        using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly");
        db.Open();
        using var query = db.CreateCommand();
        query.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            query.Parameters.AddWithValue(name, value);
        }

        return query.ExecuteScalar();
    }

    public string Logs() =>
        $"--- master ---\n{Master?.Output}\n" + string.Join("\n", _workers.Select(w => $"--- {w.Name} ---\n{w.Output}"));

    public async ValueTask DisposeAsync()
    {
        _connection?.Dispose();
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }

        if (Master is not null)
        {
            await Master.DisposeAsync();
        }

        await Broker.DropIsolatedAsync(BrokerUrl);
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A second master of a cluster (its process, its gRPC address and a client connection to it).</summary>
public sealed class OtherMaster(ChildProcess process, string address, int port) : IAsyncDisposable
{
    public int Port { get; } = port;

    private readonly DistributedExecutor.Cli.MasterConnection _connection = new(address, null);

    public ChildProcess Process { get; } = process;

    public string Address { get; } = address;

    public JobService.JobServiceClient Jobs => _connection.Jobs;

    public WorkerService.WorkerServiceClient Workers => _connection.Workers;

    public async ValueTask DisposeAsync()
    {
        _connection.Dispose();
        await Process.DisposeAsync();
    }
}

public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}
