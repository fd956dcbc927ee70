using DistributedExecutor.Master.Schedules;

namespace DistributedExecutor.Tests.Master.Schedules;

public sealed class ScheduleCronTests
{
    private static readonly TimeZoneInfo Berlin = ScheduleCron.Zone("Europe/Berlin").Zone!;

    [Fact]
    public void Next_InTheSkippedHourOfSpringForward_FiresOnceAtTheChange()
    {
        // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that night.
        var (cron, _) = ScheduleCron.Parse("30 2 * * *");
        var next = ScheduleCron.Next(cron!, Berlin, DateTimeOffset.Parse("2026-03-28T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(DateTimeOffset.Parse("2026-03-29T01:00:00Z", System.Globalization.CultureInfo.InvariantCulture), next);
    }

    [Fact]
    public void Next_InTheRepeatedHourOfFallBack_FiresOnce()
    {
        // 2026-10-25 03:00 CEST goes back to 02:00 CET: 02:30 happens twice, the schedule fires at the first.
        var (cron, _) = ScheduleCron.Parse("30 2 * * *");
        var from = DateTimeOffset.Parse("2026-10-24T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var first = ScheduleCron.Next(cron!, Berlin, from)!.Value;
        var second = ScheduleCron.Next(cron!, Berlin, first)!.Value;

        Assert.Equal(DateTimeOffset.Parse("2026-10-25T00:30:00Z", System.Globalization.CultureInfo.InvariantCulture), first);
        Assert.Equal(DateTimeOffset.Parse("2026-10-26T01:30:00Z", System.Globalization.CultureInfo.InvariantCulture), second);
    }

    [Theory]
    [InlineData("*/5 * * * *")]
    [InlineData("*/10 * * * * *")]
    [InlineData("@hourly")]
    [InlineData("0 2 * * MON-FRI")]
    public void Parse_FiveOrSixFieldsOrAMacro(string text) => Assert.Null(ScheduleCron.Parse(text).Problem);

    [Theory]
    [InlineData("61 * * * *")]
    [InlineData("* * *")]
    [InlineData("every day")]
    public void Parse_NotCron_SaysWhat(string text) => Assert.StartsWith($"cron \"{text}\": ", ScheduleCron.Parse(text).Problem, StringComparison.Ordinal);

    [Fact]
    public void Zone_EmptyIsUtc_UnknownSaysWhat()
    {
        Assert.Equal(TimeZoneInfo.Utc, ScheduleCron.Zone("").Zone);
        Assert.Contains("Mars/Olympus", ScheduleCron.Zone("Mars/Olympus").Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Count_TicksInTheSpan_UpToTheCap()
    {
        var (cron, _) = ScheduleCron.Parse("* * * * * *");
        var from = DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal(11, ScheduleCron.Count(cron!, TimeZoneInfo.Utc, from, from.AddSeconds(10), 100));
        Assert.Equal(5, ScheduleCron.Count(cron!, TimeZoneInfo.Utc, from, from.AddSeconds(10), 5));
    }
}
