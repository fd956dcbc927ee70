namespace DistributedExecutor.Tests.Fixtures;

/// <summary>
/// The private servers' clean-up of what a killed run left (<see cref="ChildProcess.ReapOrphanedServers"/>). A CI run
/// was once killed by it: a PostgreSQL folder from before a reboot kept a pid in postmaster.pid that now named the
/// test run itself. These tests leave such a folder and check that only the process running from it is killed.
/// </summary>
[Trait("Category", "Integration")]
public sealed class OrphanReapingTests
{
    private const string Prefix = "distexec-reaptest-";

    /// <summary>A private server's folder, as the fixtures make them: the folder and its data folder inside.</summary>
    private static (string Dir, string Data) ServerFolder()
    {
        var dir = Directory.CreateTempSubdirectory(Prefix).FullName;
        var data = Path.Combine(dir, "data");
        Directory.CreateDirectory(data);
        return (dir, data);
    }

    /// <summary>A process that runs "from" <paramref name="data"/> as a server does: its command line gives it with -D.</summary>
    /// <remarks>
    /// Returned once it is the shell: started through setsid, it execs again, and a /proc scan that reads its command line
    /// during that exec reads nothing (a CI run's reaping once missed it so), where a real orphan has long been running.
    /// </remarks>
    private static ChildProcess StartServerIn(string data)
    {
        var server = ChildProcess.Start("server", "/bin/sh", ["-c", "sleep 300 >/dev/null 2>&1 & wait", "-D", data], new Dictionary<string, string?>());
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!CommandLine(server.Pid).StartsWith("/bin/sh\0-c\0", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the stand-in server {server.Pid} never became the shell: {CommandLine(server.Pid)}");
            }

            Thread.Sleep(5);
        }

        return server;
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline");
        }
        catch (IOException)
        {
            return "";
        }
    }

    [Fact]
    public async Task OrphanedFolder_KillsTheProcessRunningFromIt_NeverThePidItsFilesName()
    {
        var (dir, data) = ServerFolder();
        await using var server = StartServerIn(data);
        await using var bystander = ChildProcess.Start("bystander", "/bin/sh", ["-c", "sleep 300 & wait"], new Dictionary<string, string?>());

        // A pid file naming a process that has nothing to do with the folder (as after a reboot), and an owner that is gone.
        await File.WriteAllTextAsync(Path.Combine(data, "postmaster.pid"), $"{bystander.Pid}\n{data}\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "owner"), "999999999");
        Directory.SetLastWriteTimeUtc(dir, DateTime.UtcNow.AddMinutes(-5));

        ChildProcess.ReapOrphanedServers(Prefix, "-D");

        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(10)), "the process running from the orphaned folder was not killed");
        Assert.False(bystander.HasExited, "a process named only by a pid file in the folder was killed");
        Assert.False(Directory.Exists(dir), "the orphaned folder was not deleted");
    }

    [Fact]
    public async Task FolderWhoseOwnerLives_IsLeftAlone()
    {
        var (dir, data) = ServerFolder();
        await using var server = StartServerIn(data);
        await File.WriteAllTextAsync(Path.Combine(dir, "owner"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.SetLastWriteTimeUtc(dir, DateTime.UtcNow.AddMinutes(-5));
        try
        {
            ChildProcess.ReapOrphanedServers(Prefix, "-D");

            Assert.False(server.HasExited, "a server whose owner lives was killed");
            Assert.True(Directory.Exists(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
