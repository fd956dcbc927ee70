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

    public static ChildProcess Start(string name, string program, IEnumerable<string> args, IDictionary<string, string?> environment)
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
        return child;
    }

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
    /// Stops a server the tests started (<paramref name="signal"/>, then KILL after 10 s) and deletes its data folder;
    /// a folder still held is left for the next run's reaping of orphans.
    /// </summary>
    public static void StopServer(ChildProcess? server, int signal, string? dataDir)
    {
        server?.Signal(signal);
        if (server is not null && !server.WaitForExitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult())
        {
            server.Signal(9);
        }

        if (dataDir is not null)
        {
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Left for the next run's reaping of orphans.
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

    /// <summary>Sends a signal to the whole group (15 TERM, 9 KILL).</summary>
    public void Signal(int signal) => ProcessGroup.Signal(_process.Id, signal);

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
