using DistributedExecutor.Executors.Command;
using Npgsql;

namespace DistributedExecutor.Tests.Fixtures;

/// <summary>
/// The real PostgreSQL the store tests use, in this order: TEST_DATABASE_URL if set (a postgres:// URL whose user may
/// create databases); else a private server from Debian's postgresql package (initdb and postgres from
/// /usr/lib/postgresql/&lt;version&gt;/bin, run as the postgres user when the tests run as root) on a free loopback port
/// with a password and a throw-away data folder; else a Testcontainers PostgreSQL where a Docker engine answers; else
/// the tests fail, naming all three. One server serves the whole run; each test asks for a database of its own.
/// </summary>
public sealed class PostgresServer
{
    private const string DataDirPrefix = "distexec-postgres-";
    private static readonly Lazy<Task<PostgresServer>> SharedServer = new(StartAsync);
    private static int _databases;

    private ChildProcess? _server;
    private string? _dataDir;

    private PostgresServer(Uri url) => Url = url;

    /// <summary>postgres://user:password@127.0.0.1:port/postgres: the administrative database.</summary>
    public Uri Url { get; }

    public static Task<PostgresServer> Shared => SharedServer.Value;

    /// <summary>The server's postmaster, if this run started it.</summary>
    public int? ServerPid => _server is { HasExited: false } server ? server.Pid : null;

    /// <summary>A new, empty database on the server, as a postgres:// URL (what MASTER_DB_URL takes).</summary>
    public async Task<string> NewDatabaseUrlAsync()
    {
        // Unique per run and database, and short of PostgreSQL's 63 bytes whatever the pid's length (pids wrap: a
        // three-digit one once made a fixed cut at 48 characters throw).
        var name = $"distexec_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid().ToString("N")[..16]}";
        await using (var admin = new NpgsqlConnection(ConnectionString(Url)))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
            await create.ExecuteNonQueryAsync();
        }

        return new UriBuilder(Url) { Path = "/" + name }.Uri.ToString();
    }

    /// <summary>An Npgsql connection string for a postgres:// URL (what the master itself does with MASTER_DB_URL).</summary>
    public static string ConnectionString(Uri url) => DistributedExecutor.Master.Jobs.Store.PostgresBackend.ConnectionString(url.ToString());

    private static async Task<PostgresServer> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("TEST_DATABASE_URL") is { Length: > 0 } given)
        {
            var server = new PostgresServer(new Uri(given));
            await WaitUntilUpAsync(server.Url, TimeSpan.FromSeconds(30), null);
            return server;
        }

        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.EnumerateDirectories("/usr/lib/postgresql")
                .Select(dir => Path.Combine(dir, "bin"))
                .Where(dir => File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "postgres")))
                .OrderByDescending(dir => int.TryParse(Path.GetFileName(Path.GetDirectoryName(dir)), out var v) ? v : 0)
                .FirstOrDefault()
            : null;
        if (bin is not null)
        {
            return await StartPrivateServerAsync(bin);
        }

        if (await ChildProcess.DockerAnswersAsync())
        {
            var container = new Testcontainers.PostgreSql.PostgreSqlBuilder("postgres:16").Build();
            await container.StartAsync();
            var connection = new NpgsqlConnectionStringBuilder(container.GetConnectionString());
            var server = new PostgresServer(new Uri(
                $"postgres://{Uri.EscapeDataString(connection.Username!)}:{Uri.EscapeDataString(connection.Password!)}@{connection.Host}:{connection.Port}/{connection.Database}"));
            RunEnd.Add(() => container.DisposeAsync().AsTask().GetAwaiter().GetResult());
            return server;
        }

        throw new InvalidOperationException(
            "No PostgreSQL for the tests: TEST_DATABASE_URL is not set, Debian's postgresql package is not installed " +
            "(/usr/lib/postgresql/<version>/bin/initdb; 'apt-get install postgresql', which make test does when root), and no Docker engine answers for Testcontainers.");
    }

    private static async Task<PostgresServer> StartPrivateServerAsync(string bin)
    {
        ChildProcess.ReapOrphanedServers(DataDirPrefix, "-D");
        var root = Environment.UserName == "root";
        var dir = Directory.CreateTempSubdirectory(DataDirPrefix).FullName;
        await File.WriteAllTextAsync(Path.Combine(dir, "owner"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var password = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        var passwordFile = Path.Combine(dir, "password");
        await File.WriteAllTextAsync(passwordFile, password);
        var data = Path.Combine(dir, "data");
        if (root)
        {
            // The server refuses to run as root: the folder becomes the postgres user's.
            var chown = await ProcessRunner.RunAsync("chown", ["-R", "postgres:postgres", dir]);
            if (chown.ExitCode != 0)
            {
                throw new InvalidOperationException($"chown of {dir} to postgres failed: {chown.Stderr}");
            }
        }

        string[] AsServerUser(string program, params string[] args) => root ? ["runuser", "-u", "postgres", "--", program, .. args] : [program, .. args];

        var initdb = AsServerUser(Path.Combine(bin, "initdb"), "-D", data, "-U", "distexec", "--pwfile", passwordFile, "--auth-host=scram-sha-256",
            "--auth-local=peer", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync");
        var init = await ProcessRunner.RunAsync(initdb[0], initdb[1..], workingDirectory: dir, timeout: TimeSpan.FromSeconds(120));
        if (init.ExitCode != 0)
        {
            throw new InvalidOperationException($"initdb failed ({init.ExitCode}):\n{init.Stdout}\n{init.Stderr}");
        }

        var port = FreePort.Next();
        var postgres = AsServerUser(Path.Combine(bin, "postgres"), "-D", data, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-c", "listen_addresses=127.0.0.1", "-c", $"unix_socket_directories={dir}", "-c", "fsync=off", "-c", "max_connections=300",
            "-c", "shared_buffers=64MB", "-c", "log_min_messages=warning");
        var url = new Uri($"postgres://distexec:{password}@127.0.0.1:{port}/postgres");
        var server = new PostgresServer(url) { _dataDir = dir };
        server._server = ChildProcess.Start("postgres", postgres[0], postgres[1..], new Dictionary<string, string?>(), dir);
        RunEnd.Add(server.StopNow);
        await WaitUntilUpAsync(url, TimeSpan.FromSeconds(60), server._server);
        return server;
    }

    /// <summary>At the end of the run: the server stopped (SIGQUIT, PostgreSQL's immediate shutdown: the data is thrown away) and its folder removed.</summary>
    private void StopNow() => ChildProcess.StopServer(_server, 3, _dataDir);

    private static Task WaitUntilUpAsync(Uri url, TimeSpan timeout, ChildProcess? server) =>
        ChildProcess.WaitUntilServingAsync($"PostgreSQL at {url.Host}:{url.Port}", server, timeout, TimeSpan.FromMilliseconds(100), async () =>
        {
            await using var connection = new NpgsqlConnection(ConnectionString(url));
            await connection.OpenAsync();
        });
}
