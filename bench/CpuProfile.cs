using System.Globalization;

namespace DistributedExecutor.Bench;

/// <summary>The processes the bench started, by part: CPU is attributed by these pids and their descendants.</summary>
/// <param name="OtherMasters">Masters beyond the first (several on one PostgreSQL store), counted as "master".</param>
/// <param name="Database">The PostgreSQL server's first process (its backends are its descendants), as "database".</param>
internal sealed record BenchProcesses(int? Master, IReadOnlyList<int> Workers, int? Broker, IReadOnlyList<int>? OtherMasters = null, int? Database = null);

/// <summary>
/// Where the CPU went during a scenario, per task: user+system time of the master, the workers, the task processes
/// they started (reaped ones through the workers' cutime/cstime, live ones as their descendants), the broker (its
/// start script and every descendant, the Erlang VM among them) and this process (the client, and in the pipeline
/// and bus baseline also the synthetic workers). Attributed by the pids the bench started, never by names.
/// </summary>
internal sealed class CpuProfile
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux
    private readonly BenchProcesses _processes;
    private readonly Dictionary<string, double> _start;

    private CpuProfile(BenchProcesses processes)
    {
        _processes = processes;
        _start = Snapshot(processes);
    }

    public static CpuProfile Start(BenchProcesses processes) => new(processes);

    /// <summary>CPU milliseconds per task (or per round trip) by part, since Start.</summary>
    public IReadOnlyDictionary<string, double> PerTask(int tasks)
    {
        var now = Snapshot(_processes);
        return now.ToDictionary(p => p.Key, p => (p.Value - _start.GetValueOrDefault(p.Key)) * 1000 / tasks);
    }

    /// <summary>CPU seconds of one part since Start.</summary>
    public double Seconds(string part) => Snapshot(_processes).GetValueOrDefault(part) - _start.GetValueOrDefault(part);

    public static string Describe(IReadOnlyDictionary<string, double> perTask) =>
        string.Join(", ", perTask.Where(p => p.Value > 0.005).OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value:0.00}"));

    private static Dictionary<string, double> Snapshot(BenchProcesses processes)
    {
        var table = ReadProcessTable();
        var children = table.Values.GroupBy(p => p.Parent).ToDictionary(g => g.Key, g => g.Select(p => p.Pid).ToList());
        IEnumerable<Stat> Descendants(int pid)
        {
            foreach (var child in children.GetValueOrDefault(pid) ?? [])
            {
                yield return table[child];
                foreach (var deeper in Descendants(child))
                {
                    yield return deeper;
                }
            }
        }

        var parts = new Dictionary<string, double>
        {
            ["client"] = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds,
        };
        foreach (var master in (processes.Master is { } first ? [first] : Array.Empty<int>()).Concat(processes.OtherMasters ?? []))
        {
            if (table.TryGetValue(master, out var m))
            {
                parts["master"] = parts.GetValueOrDefault("master") + m.Own + m.Reaped + Descendants(master).Sum(d => d.Own + d.Reaped);
            }
        }

        if (processes.Database is { } database && table.TryGetValue(database, out var db))
        {
            parts["database"] = db.Own + db.Reaped + Descendants(database).Sum(d => d.Own + d.Reaped);
        }

        foreach (var worker in processes.Workers)
        {
            if (table.TryGetValue(worker, out var w))
            {
                parts["workers"] = parts.GetValueOrDefault("workers") + w.Own;
                parts["task processes"] = parts.GetValueOrDefault("task processes") + w.Reaped + Descendants(worker).Sum(d => d.Own + d.Reaped);
            }
        }

        if (processes.Broker is { } broker && table.TryGetValue(broker, out var b))
        {
            parts["broker"] = b.Own + b.Reaped + Descendants(broker).Sum(d => d.Own + d.Reaped);
        }

        return parts;
    }

    private static Dictionary<int, Stat> ReadProcessTable()
    {
        var table = new Dictionary<int, Stat>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                // Fields after the command name: ppid(4) … utime(14) stime(15) cutime(16) cstime(17), 1-based.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                double Field(int n) => double.Parse(fields[n - 3], CultureInfo.InvariantCulture) / TicksPerSecond;
                table[pid] = new Stat(pid, int.Parse(fields[1], CultureInfo.InvariantCulture), Field(14) + Field(15), Field(16) + Field(17));
            }
            catch (IOException)
            {
                // The process ended while being read.
            }
        }

        return table;
    }

    /// <summary>A process: its own CPU seconds and those of its children it reaped.</summary>
    private sealed record Stat(int Pid, int Parent, double Own, double Reaped);
}
