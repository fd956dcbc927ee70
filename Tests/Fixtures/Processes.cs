namespace DistributedExecutor.Tests.Fixtures;

/// <summary>Looks at /proc: which processes carry a given argv entry (tests use unique markers).</summary>
public static class Processes
{
    /// <summary>Pids once seen with an argument: a zombie's command line is empty, so it is known by its pid.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, System.Collections.Concurrent.ConcurrentDictionary<int, bool>> Seen = new(StringComparer.Ordinal);

    /// <summary>
    /// Processes with the argument; a zombie of a process seen with it by an earlier call counts too (it would mean
    /// nobody reaped it). Tests first wait for the process to appear, so its pid is known when it should be gone.
    /// </summary>
    public static int WithArgument(string argument)
    {
        var seen = Seen.GetOrAdd(argument, _ => new());
        var count = 0;
        foreach (var process in All())
        {
            if (process.Args.Contains(argument))
            {
                seen[process.Pid] = true;
                count++;
            }
            else if (process.State == "Z" && seen.ContainsKey(process.Pid))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>
    /// How many sessions run a process with the argument: one run of a task is one session (it starts in a
    /// session of its own), and a shell forking a child briefly shows the argument twice within the same session.
    /// </summary>
    public static int SessionsWithArgument(string argument) =>
        All().Where(p => p.Args.Contains(argument)).Select(p => p.Session).Distinct().Count();

    /// <summary>Per parent pid, how many processes have an argument starting with <paramref name="prefix"/>.</summary>
    public static Dictionary<int, int> ChildrenWithArgumentPrefix(string prefix) =>
        All().Where(p => p.Args.Skip(1).Any(a => a.StartsWith(prefix, StringComparison.Ordinal)))
            .GroupBy(p => p.Parent).ToDictionary(g => g.Key, g => g.Count());

    private static IEnumerable<(int Pid, string[] Args, string State, int Parent, int Session)> All()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc").Where(d => Path.GetFileName(d).All(char.IsAsciiDigit)))
        {
            string cmdline, stat;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            // After "(comm) ": state ppid pgrp session …
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length < 4 || !int.TryParse(fields[1], out var parent) || !int.TryParse(fields[3], out var session))
            {
                continue;
            }

            yield return (int.Parse(Path.GetFileName(dir), System.Globalization.CultureInfo.InvariantCulture), cmdline.Split('\0'), fields[0], parent, session);
        }
    }
}
