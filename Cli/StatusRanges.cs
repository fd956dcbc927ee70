using System.Globalization;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli;

/// <summary>"200-299,304" to status ranges.</summary>
internal static class StatusRanges
{
    public static IEnumerable<StatusRange> Parse(string text)
    {
        var ranges = new List<StatusRange>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-', StringComparison.Ordinal);
            var (min, max) = dash < 0 ? (part, part) : (part[..dash], part[(dash + 1)..]);
            if (!int.TryParse(min, NumberStyles.None, CultureInfo.InvariantCulture, out var low)
                || !int.TryParse(max, NumberStyles.None, CultureInfo.InvariantCulture, out var high))
            {
                throw new UsageException($"--expect \"{text}\": \"{part}\" is not a status or a range like 200-299");
            }

            ranges.Add(new StatusRange { Min = low, Max = high });
        }

        return ranges.Count > 0 ? ranges : throw new UsageException("--expect is empty");
    }
}
