using DistributedExecutor.Executors.Command;

namespace DistributedExecutor.Tests.Worker;

/// <summary>
/// How task processes' ends are learned: one thread polls every process's pidfd (no thread per task); where pidfds are
/// refused, a thread per process blocks in waitid. Both report each process's own end, and neither reaps it.
/// </summary>
public sealed class ProcessExitsTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Exits_ManyAtOnce_EachReportsItsOwnEnd_NoneReaped(bool shared)
    {
        // Forty processes ending in an order of their own: exit codes 0..29, and ten killed by signals.
        var processes = Enumerable.Range(0, 40).Select(i => SpawnedProcess.Start("/bin/sh",
            ["-c", i < 30 ? $"sleep 0.{(i * 7) % 10}; exit {i}" : $"sleep 0.{i % 10}; kill -{(i % 2 == 0 ? "KILL" : "TERM")} $$"],
            new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }, "/")).ToList();
        try
        {
            var ends = await Task.WhenAll(processes.Select(p => ProcessExits.WatchAsync(p.Pid, shared))).WaitAsync(TimeSpan.FromSeconds(30));

            Assert.Equal(Enumerable.Range(0, 30).Concat(Enumerable.Range(30, 10).Select(i => 128 + (i % 2 == 0 ? 9 : 15))), ends);
            Assert.Equal(ends, await Task.WhenAll(processes.Select(p => p.Exited)));
            if (shared)
            {
                // This machine's kernel has pidfds: the shared thread did the watching.
                Assert.True(ProcessExits.Shared, "pidfd_open was refused: the shared path went untested");
            }

            // Still zombies (their pids and group ids held) until reaped.
            Assert.All(processes, p => Assert.Equal('Z', State(p.Pid)));
            processes.ForEach(p => p.Reap());
            Assert.All(processes, p => Assert.Null(State(p.Pid)));
        }
        finally
        {
            processes.ForEach(p => p.Dispose());
        }
    }

    /// <summary>The process's state letter from /proc, or null once it is gone.</summary>
    private static char? State(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2];
        }
        catch (IOException)
        {
            return null;
        }
    }
}
