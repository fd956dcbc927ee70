using System.Globalization;

namespace DistributedExecutor.Tests.Chaos;

/// <summary>One row of the chaos table; appended to the file CHAOS_REPORT names (make chaos prints it).</summary>
public sealed record ChaosReport(string Scenario, int Rounds, int Jobs, int Lost, int Duplicated, int ExtraAttempts, TimeSpan LongestRecovery)
{
    public const string Header = "scenario\trounds\tjobs\tlost\tduplicated\tattempts beyond first\tlongest recovery";

    public string Row => string.Join('\t', Scenario, Rounds, Jobs, Lost, Duplicated, ExtraAttempts,
        LongestRecovery.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s");

    public void Write()
    {
        if (Environment.GetEnvironmentVariable("CHAOS_REPORT") is { Length: > 0 } path)
        {
            lock (typeof(ChaosReport))
            {
                File.AppendAllText(path, (File.Exists(path) ? "" : Header + "\n") + Row + "\n");
            }
        }
    }

    /// <summary>Rounds at the size make test uses, or at full size under make chaos (CHAOS_SCALE=full).</summary>
    public static int Size(int small, int full) =>
        string.Equals(Environment.GetEnvironmentVariable("CHAOS_SCALE"), "full", StringComparison.OrdinalIgnoreCase) ? full : small;
}
