using DistributedExecutor.Executors.Command;
using System.Diagnostics;
using RabbitMQ.Client;
using Testcontainers.RabbitMq;

namespace DistributedExecutor.Tests.Fixtures;

/// <summary>
/// The real RabbitMQ the integration and end-to-end tests use, in this order: RABBITMQ_URL if set; else a
/// private rabbitmq-server (Debian's package) on free loopback ports with a throw-away data folder; else a
/// Testcontainers RabbitMQ where a Docker engine answers; else the tests fail, naming all three.
/// One broker serves the whole test run and is stopped when the run ends.
/// </summary>
public sealed class RabbitMqBroker
{
    private const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private static readonly Lazy<Task<RabbitMqBroker>> SharedBroker = new(StartAsync);

    private Uri? _managementUrl = Environment.GetEnvironmentVariable("RABBITMQ_MANAGEMENT_URL") is { Length: > 0 } management ? new Uri(management) : null;
    private ChildProcess? _server;
    private Dictionary<string, string?>? _serverEnvironment;
    private RabbitMqContainer? _container;
    private string? _dataDir;

    private RabbitMqBroker(Uri url)
    {
        Url = url;
    }

    /// <summary>amqp://guest:guest@127.0.0.1:port/</summary>
    public Uri Url { get; }

    /// <summary>The private server's process (the start script; the Erlang VM is among its descendants), if this broker has one.</summary>
    public int? ServerPid => _server is { HasExited: false } server ? server.Pid : null;

    public static Task<RabbitMqBroker> Shared => SharedBroker.Value;

    public static async Task<IConnection> ConnectAsync(Uri url)
    {
        var factory = new ConnectionFactory { Uri = url };
        return await factory.CreateConnectionAsync();
    }

    /// <summary>Messages waiting in a queue (0 when it does not exist).</summary>
    public static async Task<uint> MessageCountAsync(Uri url, string queue)
    {
        await using var connection = await ConnectAsync(url);
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            var ok = await channel.QueueDeclarePassiveAsync(queue);
            return ok.MessageCount;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return 0;
        }
    }

    /// <summary>
    /// A URL to a virtual host of its own, so clusters that run side by side never share queues: made with
    /// rabbitmqctl on a private server, through the management API on a given broker (RABBITMQ_URL with
    /// RABBITMQ_MANAGEMENT_URL, by default port 15672 of the same host with the same user; Testcontainers' port).
    /// </summary>
    public async Task<Uri> IsolatedUrlAsync(string name)
    {
        if (_serverEnvironment is not null)
        {
            await RabbitMqCtlAsync("add_vhost", name);
            await RabbitMqCtlAsync("set_permissions", "-p", name, "guest", ".*", ".*", ".*");
            return new Uri(Url, name);
        }

        var user = Uri.UnescapeDataString(Url.UserInfo.Split(':')[0]);
        await ManagementAsync(HttpMethod.Put, $"api/vhosts/{Uri.EscapeDataString(name)}", "{}");
        await ManagementAsync(HttpMethod.Put, $"api/permissions/{Uri.EscapeDataString(name)}/{Uri.EscapeDataString(user)}", """{"configure":".*","write":".*","read":".*"}""");
        lock (_givenVhosts)
        {
            _givenVhosts.Add(name);
        }

        return new Uri(Url, name);
    }

    /// <summary>Removes a virtual host made on a given broker (a private server is thrown away whole).</summary>
    public async Task DropIsolatedAsync(Uri url)
    {
        var name = Uri.UnescapeDataString(url.AbsolutePath.TrimStart('/'));
        bool ours;
        lock (_givenVhosts)
        {
            ours = _givenVhosts.Remove(name);
        }

        if (_serverEnvironment is null && ours)
        {
            await ManagementAsync(HttpMethod.Delete, $"api/vhosts/{Uri.EscapeDataString(name)}", null);
        }
    }

    private readonly HashSet<string> _givenVhosts = new(StringComparer.Ordinal);

    private async Task ManagementAsync(HttpMethod method, string path, string? json)
    {
        var management = _managementUrl ?? new UriBuilder(Url) { Scheme = "http", Port = 15672, Path = "/", UserName = "", Password = "" }.Uri;
        using var http = new HttpClient { BaseAddress = new Uri(management.GetLeftPart(UriPartial.Authority) + "/"), Timeout = TimeSpan.FromSeconds(30) };
        var credentials = (management.UserInfo.Length > 0 ? management.UserInfo : Url.UserInfo).Split(':');
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{Uri.UnescapeDataString(credentials[0])}:{Uri.UnescapeDataString(credentials.ElementAtOrDefault(1) ?? "")}")));
        using var request = new HttpRequestMessage(method, path) { Content = json is null ? null : new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request);
        }
        catch (HttpRequestException ex)
        {
            throw new InvalidOperationException(
                $"clusters that run side by side get a virtual host each, made through the broker's management API at {http.BaseAddress}: {ex.Message}; set RABBITMQ_MANAGEMENT_URL (http://user:pass@host:15672/)", ex);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException(
                    $"the broker's management API at {http.BaseAddress} answered {(int)response.StatusCode} to {method} {path}: {await response.Content.ReadAsStringAsync()}; the user needs the administrator tag, or set RABBITMQ_MANAGEMENT_URL");
            }
        }
    }

    /// <summary>
    /// A virtual host with a broker user of its own and an unguessable password, for tests that check a secret
    /// never reaches a task. Null where the broker is not ours to configure (RABBITMQ_URL set).
    /// </summary>
    public async Task<(Uri Url, string Password)?> IsolatedUserUrlAsync(string name)
    {
        if (_serverEnvironment is null)
        {
            return null;
        }

        var password = $"pw-{Guid.NewGuid():N}";
        await RabbitMqCtlAsync("add_vhost", name);
        await RabbitMqCtlAsync("add_user", name, password);
        await RabbitMqCtlAsync("set_permissions", "-p", name, name, ".*", ".*", ".*");
        return (new UriBuilder(new Uri(Url, name)) { UserName = name, Password = password }.Uri, password);
    }

    /// <summary>A broker of its own that a test may stop and start again (chaos). Fails loudly without rabbitmq-server.</summary>
    public static async Task<RabbitMqBroker> StartPrivateAsync()
    {
        if (!File.Exists(ServerScript))
        {
            throw new InvalidOperationException($"chaos scenarios need a rabbitmq-server they can stop and start ({ServerScript}); 'apt-get install rabbitmq-server' (make test does it when root)");
        }

        return await StartPrivateServerAsync();
    }

    /// <summary>Stops the private server (its data stays) and waits until it is gone.</summary>
    public async Task StopServerAsync()
    {
        var server = _server ?? throw new InvalidOperationException("not a private server");
        server.Signal(15);
        if (!await server.WaitForExitAsync(TimeSpan.FromSeconds(60)))
        {
            server.Signal(9);
            await server.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>Starts the private server again on the same port and data, and waits until it takes connections.</summary>
    public async Task StartServerAsync()
    {
        _server = ChildProcess.Start("rabbitmq", ServerScript, [], _serverEnvironment!, _dataDir);
        await WaitUntilUpAsync(Url, TimeSpan.FromSeconds(90), _server);
    }

    /// <summary>
    /// Closes (from the broker's side) every live client connection whose name starts with <paramref name="namePrefix"/>;
    /// one already closing (an earlier cut the client is still recovering from) is not counted.
    /// </summary>
    public async Task<int> CloseConnectionsAsync(string namePrefix)
    {
        var listing = await RabbitMqCtlAsync("list_connections", "pid", "state", "client_properties");
        var closed = 0;
        foreach (var line in listing.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t');
            var pid = fields[0];
            if (fields.Length > 2 && fields[1] == "running" && line.Contains($"\"connection_name\",\"{namePrefix}", StringComparison.Ordinal))
            {
                await RabbitMqCtlAsync("close_connection", pid, "chaos: connection cut");
                closed++;
            }
        }

        return closed;
    }

    public async Task DisposeAsync() => await Task.Run(StopNow);

    private async Task<string> RabbitMqCtlAsync(params string[] args)
    {
        var result = await ProcessRunner.RunAsync("/usr/lib/rabbitmq/bin/rabbitmqctl", ["-q", .. args], _serverEnvironment, timeout: TimeSpan.FromSeconds(60));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', args)} failed: {result.Stderr}");
        }

        return result.Stdout;
    }

    private static async Task<RabbitMqBroker> StartAsync()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("RABBITMQ_URL");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            var broker = new RabbitMqBroker(new Uri(fromEnvironment));
            await WaitUntilUpAsync(broker.Url, TimeSpan.FromSeconds(30), null);
            return broker;
        }

        if (File.Exists(ServerScript))
        {
            return await StartPrivateServerAsync();
        }

        if (await ChildProcess.DockerAnswersAsync())
        {
            var container = new RabbitMqBuilder("rabbitmq:3.13-management").WithUsername("guest").WithPassword("guest").Build();
            await container.StartAsync();
            var broker = new RabbitMqBroker(new Uri(container.GetConnectionString()))
            {
                _container = container,
                _managementUrl = new Uri($"http://guest:guest@{container.Hostname}:{container.GetMappedPublicPort(15672)}/"),
            };
            RunEnd.Add(() => container.DisposeAsync().AsTask().GetAwaiter().GetResult());
            return broker;
        }

        throw new InvalidOperationException(
            "No RabbitMQ for the tests: RABBITMQ_URL is not set, rabbitmq-server is not installed " +
            $"({ServerScript}; 'apt-get install rabbitmq-server', which make test does when root), and no Docker engine answers for Testcontainers.");
    }

    private const string DataDirPrefix = "distexec-rabbitmq-";

    private static async Task<RabbitMqBroker> StartPrivateServerAsync()
    {
        ChildProcess.ReapOrphanedServers(DataDirPrefix, "-home");
        var port = FreePort.Next();
        var distPort = FreePort.Next();
        var dir = Directory.CreateTempSubdirectory(DataDirPrefix).FullName;
        await File.WriteAllTextAsync(Path.Combine(dir, "owner"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await File.WriteAllTextAsync(Path.Combine(dir, "enabled_plugins"), "[].");
        await File.WriteAllTextAsync(Path.Combine(dir, "rabbitmq.conf"), $"""
            listeners.tcp.1 = 127.0.0.1:{port}
            loopback_users = none
            log.console = false
            log.file.level = warning
            consumer_timeout = 3600000
            """);
        var environment = new Dictionary<string, string?>
        {
            ["HOME"] = dir,
            ["RABBITMQ_NODENAME"] = $"distexec-test-{port}@localhost",
            ["RABBITMQ_NODE_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["RABBITMQ_DIST_PORT"] = distPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(dir, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(dir, "log"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(dir, "enabled_plugins"),
            ["RABBITMQ_CONFIG_FILE"] = Path.Combine(dir, "rabbitmq.conf"),
        };
        var url = new Uri($"amqp://guest:guest@127.0.0.1:{port}/");
        var broker = new RabbitMqBroker(url) { _dataDir = dir };
        broker._serverEnvironment = environment;
        broker._server = ChildProcess.Start("rabbitmq", ServerScript, [], environment, dir);
        RunEnd.Add(broker.StopNow);
        await WaitUntilUpAsync(url, TimeSpan.FromSeconds(90), broker._server);
        return broker;
    }

    /// <summary>
    /// At the end of the run: the server killed and its data folder removed. Its data is thrown away, so it gets no
    /// graceful stop: that took seconds, and the runner ended the test host before the folder was deleted.
    /// </summary>
    private void StopNow() => ChildProcess.StopServer(_server, 9, _dataDir);

    private static Task WaitUntilUpAsync(Uri url, TimeSpan timeout, ChildProcess? server) =>
        ChildProcess.WaitUntilServingAsync($"RabbitMQ at {url.Host}:{url.Port}", server, timeout, TimeSpan.FromMilliseconds(200), async () =>
        {
            await using var connection = await new ConnectionFactory { Uri = url }.CreateConnectionAsync();
        });
}
