using System.Globalization;

namespace DistributedExecutor.Cli;

/// <summary>
/// Times as people type them on the command line (--at, --in, --since): a point in time (2026-12-01T02:00Z, or with
/// <c>clockAllowed</c> a bare clock time such as 02:00, today in the local zone) or a duration from now (10m, 1h30m).
/// </summary>
internal static class TimeArgument
{
    /// <summary>
    /// The point in time <paramref name="text"/> names, or null when it names none. Without <paramref name="clockAllowed"/>
    /// a time must carry a date ('-'), so that "90" or "1.5" stays a duration.
    /// </summary>
    public static DateTimeOffset? PointIn(string text, bool clockAllowed) =>
        (clockAllowed || text.Contains('-', StringComparison.Ordinal))
        && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var time)
            ? time
            : null;

    /// <summary>Now, moved by the duration <paramref name="text"/> names: ahead, or back with <paramref name="ago"/>.</summary>
    /// <exception cref="FormatException">Not a duration; the message says what one looks like.</exception>
    public static DateTimeOffset FromNow(string text, bool ago = false)
    {
        var duration = DurationParser.Parse(text);
        return ago ? DateTimeOffset.Now - duration : DateTimeOffset.Now + duration;
    }
}
