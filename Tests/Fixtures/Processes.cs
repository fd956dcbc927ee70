namespace DistributedExecutor.Tests.Fixtures;

/// <summary>Looks at /proc: which processes carry a given argv entry (tests use unique markers).</summary>
public static class Processes
{
    /// <summary>Processes with the argument; a zombie counts too (it would mean nobody reaped it).</summary>
    public static int WithArgument(string argument) =>
        All().Count(p => p.Args.Contains(argument) || (p.State == "Z" && p.CommandLine.Contains(argument, StringComparison.Ordinal)));

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

    private static IEnumerable<(string CommandLine, string[] Args, string State, int Parent, int Session)> All()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
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

            yield return (cmdline, cmdline.Split('\0'), fields[0], parent, session);
        }
    }
}
