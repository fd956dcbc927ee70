using System.Globalization;

namespace DistributedExecutor.Bench;

/// <summary>
/// Where the CPU went during a scenario: user+system time of the master, the workers (and, apart, the task
/// processes they started and reaped), the broker and this client, from /proc, per task.
/// </summary>
internal sealed class CpuProfile
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux
    private readonly Dictionary<string, double> _start;

    private CpuProfile(Dictionary<string, double> start) => _start = start;

    public static CpuProfile Start() => new(Snapshot());

    /// <summary>CPU milliseconds per task by part, since Start.</summary>
    public IReadOnlyDictionary<string, double> PerTask(int tasks)
    {
        var now = Snapshot();
        return now.ToDictionary(p => p.Key, p => (p.Value - _start.GetValueOrDefault(p.Key)) * 1000 / tasks);
    }

    public static string Describe(IReadOnlyDictionary<string, double> perTask) =>
        string.Join(", ", perTask.Where(p => p.Value > 0.005).OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value:0.00}"));

    private static Dictionary<string, double> Snapshot()
    {
        var parts = new Dictionary<string, double>
        {
            ["client"] = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds,
        };
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var pid = Path.GetFileName(dir);
            if (!char.IsAsciiDigit(pid[0]))
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                var part = cmdline.Contains("bin/master", StringComparison.Ordinal) ? "master"
                    : cmdline.Contains("bin/worker", StringComparison.Ordinal) ? "workers"
                    : cmdline.Contains("beam.smp", StringComparison.Ordinal) ? "broker"
                    : null;
                if (part is null)
                {
                    continue;
                }

                // Fields after the command name: utime(14) stime(15) cutime(16) cstime(17), 1-based.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                double Field(int n) => double.Parse(fields[n - 3], CultureInfo.InvariantCulture) / TicksPerSecond;
                parts[part] = parts.GetValueOrDefault(part) + Field(14) + Field(15);
                if (part == "workers")
                {
                    parts["task processes"] = parts.GetValueOrDefault("task processes") + Field(16) + Field(17);
                }
            }
            catch (IOException)
            {
                // The process ended while being read.
            }
        }

        return parts;
    }
}
