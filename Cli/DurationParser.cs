using System.Globalization;
using System.Text.RegularExpressions;

namespace DistributedExecutor.Cli;

/// <summary>Durations as people type them: 90, 90s, 5m, 1h30m, 500ms.</summary>
internal static partial class DurationParser
{
    public static TimeSpan Parse(string text)
    {
        var value = text.Trim();
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain))
        {
            return plain > 0 ? TimeSpan.FromSeconds(plain) : throw new FormatException($"duration \"{text}\" must be positive");
        }

        var matches = Part().Matches(value);
        if (matches.Count == 0 || string.Concat(matches.Select(m => m.Value)) != value)
        {
            throw new FormatException($"duration \"{text}\" is not like 30s, 5m, 1h30m or 500ms");
        }

        var total = TimeSpan.Zero;
        foreach (Match m in matches)
        {
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            total += m.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" => TimeSpan.FromSeconds(n),
                "m" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                _ => TimeSpan.FromDays(n),
            };
        }

        return total > TimeSpan.Zero ? total : throw new FormatException($"duration \"{text}\" must be positive");
    }

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|s|m|h|d)")]
    private static partial Regex Part();
}
