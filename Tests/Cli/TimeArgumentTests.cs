using DistributedExecutor.Cli;

namespace DistributedExecutor.Tests.Cli;

public sealed class TimeArgumentTests
{
    [Fact]
    public void PointIn_ATimeWithADate_IsThatTime() =>
        Assert.Equal(DateTimeOffset.Parse("2026-12-01T02:00:00Z", System.Globalization.CultureInfo.InvariantCulture), TimeArgument.PointIn("2026-12-01T02:00Z", clockAllowed: false));

    [Fact]
    public void PointIn_AClockTime_OnlyWhereAllowed()
    {
        Assert.Null(TimeArgument.PointIn("02:00", clockAllowed: false));
        Assert.Equal(new TimeSpan(2, 0, 0), TimeArgument.PointIn("02:00", clockAllowed: true)!.Value.TimeOfDay);
    }

    [Theory]
    [InlineData("90")]
    [InlineData("10m")]
    [InlineData("yesterday")]
    public void PointIn_NotATime_IsNull(string text) => Assert.Null(TimeArgument.PointIn(text, clockAllowed: false));

    [Fact]
    public void FromNow_MovesAheadOrBack()
    {
        var before = DateTimeOffset.Now;
        var ahead = TimeArgument.FromNow("10m");
        var ago = TimeArgument.FromNow("10m", ago: true);
        Assert.InRange(ahead - before, TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(11));
        Assert.InRange(before - ago, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
        Assert.Throws<FormatException>(() => TimeArgument.FromNow("yesterday"));
    }
}
