using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using DistributedExecutor.Executors.Command;

namespace DistributedExecutor.Tests.Fixtures;

/// <summary>
/// A program the tests start, in its own process group (through setsid) so that stopping it stops everything
/// it started. Output is kept for diagnostics.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _lock = new();

    private ChildProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    public int Pid => _process.Id;

    public string Output
    {
        get
        {
            lock (_lock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="program"/> in a session of its own. A server with a <paramref name="dataDir"/> is also
    /// cleaned up after the test host ends, however it ends (<see cref="CleanUpAfterTheRun"/>).
    /// </summary>
    public static ChildProcess Start(string name, string program, IEnumerable<string> args, IDictionary<string, string?> environment, string? dataDir = null)
    {
        var startInfo = new ProcessStartInfo("/usr/bin/setsid")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = RepoPaths.Root,
        };
        startInfo.ArgumentList.Add("--");
        startInfo.ArgumentList.Add(program);
        foreach (var arg in args)
        {
            startInfo.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment)
        {
            if (value is null)
            {
                startInfo.Environment.Remove(key);
            }
            else
            {
                startInfo.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var child = new ChildProcess(process, name);
        process.OutputDataReceived += (_, e) => child.Append(e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        if (dataDir is not null)
        {
            CleanUpAfterTheRun(process.Id, dataDir);
        }

        return child;
    }

    private static readonly ConcurrentDictionary<string, Process> Cleaners = new();

    /// <summary>
    /// The test host may end milliseconds after xunit disposes its framework, before <see cref="RunEnd"/>'s stops have
    /// killed a server and deleted its folder (seen: about 300 MB per server left in the temp folder after every run).
    /// So each server's folder gets a cleaner that outlives the host: a shell in a session of its own, reading a pipe
    /// whose only writer is this process. When the host ends, however it ends, the read sees the end of the pipe; if
    /// the folder is still there, the cleaner kills the server's process group (named in the folder's "group" file,
    /// and only while that group's leader still names the folder, so a reused id is never killed) and deletes it.
    /// </summary>
    private static void CleanUpAfterTheRun(int group, string dataDir)
    {
        File.WriteAllText(Path.Join(dataDir, "group"), group.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Cleaners.GetOrAdd(dataDir, dir =>
        {
            var startInfo = new ProcessStartInfo("/usr/bin/setsid")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var arg in (string[])["--", "/bin/sh", "-c", CleanerScript, "distexec-test-cleaner", dir])
            {
                startInfo.ArgumentList.Add(arg);
            }

            // Kept referenced for the whole run: its stdin is the pipe whose end it waits for.
            return Process.Start(startInfo)!;
        });
    }

    private const string CleanerScript = """
        exec >/dev/null 2>&1
        read -r _
        [ -d "$1" ] || exit 0
        group=$(cat "$1/group")
        if [ -n "$group" ] && grep -qF -- "$1" "/proc/$group/cmdline" "/proc/$group/environ"; then kill -9 "-$group"; fi
        for attempt in 1 2 3 4 5; do rm -rf -- "$1"; [ -d "$1" ] || exit 0; sleep 0.2; done
        """;

    /// <summary>
    /// Waits until <paramref name="connect"/> succeeds against a server (one the tests started, <paramref name="server"/>,
    /// or one they were given), trying every <paramref name="poll"/>; fails at once, with its output, when the server exits.
    /// </summary>
    public static async Task WaitUntilServingAsync(string what, ChildProcess? server, TimeSpan timeout, TimeSpan poll, Func<Task> connect)
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            if (server is { HasExited: true })
            {
                throw new InvalidOperationException($"{server.Name} exited while starting:\n{server.Output}");
            }

            try
            {
                await connect();
                return;
            }
            catch (Exception ex)
            {
                last = ex;
                await Task.Delay(poll);
            }
        }

        throw new InvalidOperationException($"{what} did not accept connections within {timeout.TotalSeconds}s: {last?.Message}\n{server?.Output}");
    }

    /// <summary>Whether a Docker engine answers (for Testcontainers, the last resort of the fixtures).</summary>
    public static async Task<bool> DockerAnswersAsync()
    {
        try
        {
            using var docker = Process.Start(new ProcessStartInfo("docker", "info") { RedirectStandardOutput = true, RedirectStandardError = true });
            if (docker is null)
            {
                return false;
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await docker.WaitForExitAsync(cts.Token);
            return docker.ExitCode == 0;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <summary>
    /// Stops a server the tests started (<paramref name="signal"/>, then KILL after 10 s) and deletes its data folder
    /// once no process of its group is left (a server's children still writing there made the delete fail, and the
    /// folder, hundreds of MB, stayed until the next run); a folder still held is left for the next run's reaping.
    /// </summary>
    public static void StopServer(ChildProcess? server, int signal, string? dataDir)
    {
        if (server is not null)
        {
            server.Signal(signal);
            if (!server.WaitForExitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult())
            {
                server.Signal(9);
            }

            // The leader has gone; what it left in the group (workers of the server) goes now.
            var deadline = Environment.TickCount64 + 5000;
            while (server.Signal(0) && Environment.TickCount64 < deadline)
            {
                server.Signal(9);
                Thread.Sleep(10);
            }
        }

        if (dataDir is null)
        {
            return;
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Directory.Delete(dataDir, recursive: true);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                if (attempt == 3)
                {
                    // Left for the next run's reaping of orphans.
                    return;
                }

                Thread.Sleep(50);
            }
        }
    }

    /// <summary>
    /// What an earlier run could not clean up because its test host was killed (a hang timeout, a crash): each private
    /// server's folder (<paramref name="prefix"/>* under the temp folder) names the process that made it (file "owner");
    /// where that process is gone, every process whose command line gives <paramref name="option"/> a path in that
    /// folder is killed and the folder deleted. Processes are found by their command line, never by a pid kept in a
    /// file: after a reboot such a pid may name any process (the test run itself).
    /// </summary>
    public static void ReapOrphanedServers(string prefix, string option)
    {
        var orphaned = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories(Path.GetTempPath(), prefix + "*"))
        {
            var owner = Path.Combine(dir, "owner");
            var alive = File.Exists(owner) && int.TryParse(File.ReadAllText(owner), out var pid) && Directory.Exists($"/proc/{pid}");
            if (!alive && Directory.GetLastWriteTimeUtc(dir) < DateTime.UtcNow.AddMinutes(-1))
            {
                orphaned.Add(Path.TrimEndingDirectorySeparator(dir) + Path.DirectorySeparatorChar);
            }
        }

        if (orphaned.Count == 0)
        {
            return;
        }

        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                if (int.TryParse(Path.GetFileName(proc), out var pid) && pid != Environment.ProcessId
                    && File.ReadAllText(Path.Combine(proc, "cmdline")).Split('\0') is var cmdline
                    && Array.IndexOf(cmdline, option) is var at and >= 0 && at + 1 < cmdline.Length
                    && orphaned.Exists(dir => (cmdline[at + 1] + Path.DirectorySeparatorChar).StartsWith(dir, StringComparison.Ordinal)))
                {
                    ProcessGroup.SignalProcess(pid, 9);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The process ended while being read.
            }
        }

        foreach (var dir in orphaned)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Still held: the next run tries again.
            }
        }
    }

    /// <summary>Sends a signal to the whole group (15 TERM, 9 KILL; 0 asks whether any process of it is left).</summary>
    public bool Signal(int signal) => ProcessGroup.Signal(_process.Id, signal);

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public int ExitCode => _process.ExitCode;

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Signal(15);
            if (!await WaitForExitAsync(TimeSpan.FromSeconds(10)))
            {
                Signal(9);
                await WaitForExitAsync(TimeSpan.FromSeconds(5));
            }
        }

        // Whatever the leader left in its group goes too.
        Signal(9);
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            if (_output.Length < 4 * 1024 * 1024)
            {
                _output.AppendLine(line);
            }
        }
    }
}
