namespace DistributedExecutor.Tests.Fixtures;

/// <summary>Looks at /proc: how many processes have a given argv entry (tests use unique markers).</summary>
public static class Processes
{
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
