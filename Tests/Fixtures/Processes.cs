namespace DistributedExecutor.Tests.Fixtures;

/// <summary>Looks at /proc: how many processes have a given argv entry (tests use unique markers).</summary>
public static class Processes
{
    /// <summary>
    /// How many sessions run a process with the argument: one run of a task is one session (it starts through
    /// setsid), and a shell forking a child briefly shows the argument twice within the same session.
    /// </summary>
    public static int SessionsWithArgument(string argument)
    {
        var sessions = new HashSet<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (!cmdline.Split('\0').Contains(argument))
                {
                    continue;
                }

                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                sessions.Add(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[3]);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return sessions.Count;
    }

    public static int WithArgument(string argument)
    {
        var count = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));

                // A zombie counts too: it would mean nobody reaped it.
                if (cmdline.Split('\0').Contains(argument) || (stat.Contains(") Z ", StringComparison.Ordinal) && cmdline.Contains(argument, StringComparison.Ordinal)))
                {
                    count++;
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return count;
    }
}
