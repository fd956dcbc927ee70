using Cronos;

namespace DistributedExecutor.Master.Schedules;

/// <summary>
/// Cron expressions and time zones, read by Cronos (which gets daylight-saving changes right: a tick in the skipped
/// hour fires once at the change, a tick in the repeated hour fires once). Five fields, or six with seconds first;
/// the macros @yearly, @monthly, @weekly, @daily, @hourly.
/// </summary>
internal static class ScheduleCron
{
    /// <summary>The expression, or the reason it is not one.</summary>
    public static (CronExpression? Expression, string? Problem) Parse(string text)
    {
        var trimmed = text.Trim();
        var fields = trimmed.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        try
        {
            return (CronExpression.Parse(trimmed, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard), null);
        }
        catch (CronFormatException ex)
        {
            return (null, $"cron \"{text}\": {ex.Message} (five fields: minute hour day-of-month month day-of-week, or six with seconds first)");
        }
    }

    /// <summary>The zone (empty: UTC), or the reason it is not one.</summary>
    public static (TimeZoneInfo? Zone, string? Problem) Zone(string name)
    {
        if (name.Length == 0)
        {
            return (TimeZoneInfo.Utc, null);
        }

        try
        {
            return (TimeZoneInfo.FindSystemTimeZoneById(name), null);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return (null, $"time zone \"{name}\" is not one this machine knows (an IANA name such as Europe/Berlin)");
        }
    }

    /// <summary>The first tick strictly after <paramref name="after"/>; null when the expression never fires again.</summary>
    public static DateTimeOffset? Next(CronExpression expression, TimeZoneInfo zone, DateTimeOffset after) =>
        expression.GetNextOccurrence(after, zone, inclusive: false);

    /// <summary>How many ticks fall in (<paramref name="from"/>, <paramref name="to"/>], counted up to <paramref name="cap"/>.</summary>
    public static int Count(CronExpression expression, TimeZoneInfo zone, DateTimeOffset from, DateTimeOffset to, int cap) =>
        expression.GetOccurrences(from, to, zone, fromInclusive: true, toInclusive: true).Take(cap).Count();
}
