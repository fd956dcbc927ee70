using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>
/// Recurring jobs on a real master, broker and workers: ticks fire on time, once each, across a master killed with
/// SIGKILL; missed ticks are skipped or run once, never once per tick; the overlap policies hold; the CLI's verbs.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class ScheduleTests
{
    [Fact]
    public async Task Schedule_EveryTickOnTimeAndOnce_AcrossAMasterKilled()
    {
        await using var cluster = await Cluster.StartAsync(1);
        var created = await cluster.DistctlAsync("schedule", "create", "every3", "--cron", "*/3 * * * * *", "--", "sh", "-c", "date +%s%N");
        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Contains("Next fire:", created.Stdout, StringComparison.Ordinal);

        // Two ticks, each a job labelled with the schedule, submitted within a second and a half of its tick.
        var first = await FiresAsync(cluster, "every3", 2);
        foreach (var fire in first)
        {
            var job = (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = fire.JobId })).Job;
            Assert.Equal("every3", job.Labels["schedule"]);
            var late = job.CreatedAt.ToDateTimeOffset() - fire.At.ToDateTimeOffset();
            Assert.InRange(late, TimeSpan.Zero, TimeSpan.FromSeconds(2));
        }

        // The master dies with SIGKILL and stays down across a tick; the tick it missed fires once it is back (late by
        // less than SCHEDULE_GRACE_SECONDS), and no tick fires twice.
        cluster.Master!.Signal(9);
        Assert.True(await cluster.Master.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        var downSince = DateTimeOffset.UtcNow;
        await Eventually.Until(() => DateTimeOffset.UtcNow > downSince + TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(30), "a tick to pass with the master down");
        await cluster.StartMasterAsync();
        var fires = await FiresAsync(cluster, "every3", first.Count + 3);
        Assert.Equal(0, (await cluster.DistctlAsync("schedule", "pause", "every3")).ExitCode);

        var all = (await cluster.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = "every3" })).Schedule.RecentFires.Reverse().ToList();
        Assert.All(all, f => Assert.Equal(FireOutcome.Started, f.Outcome));
        // Every tick once, in order; the only gap is the master's downtime, whose ticks fold into one late fire.
        var ticks = all.Select(f => f.At.ToDateTimeOffset()).ToList();
        var gaps = 0;
        for (var i = 1; i < ticks.Count; i++)
        {
            var step = ticks[i] - ticks[i - 1];
            Assert.True(step > TimeSpan.Zero && step.TotalMilliseconds % 3000 == 0, $"ticks {ticks[i - 1]:O} then {ticks[i]:O}");
            gaps += step > TimeSpan.FromSeconds(3) ? 1 : 0;
        }

        Assert.True(gaps <= 1, $"{gaps} gaps between fires: {string.Join(", ", ticks.Select(t => t.ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)))}");
        var lateFire = Assert.Single(all, f => f.At.ToDateTimeOffset() > downSince && f.At.ToDateTimeOffset() < downSince + TimeSpan.FromSeconds(4));
        Assert.True((await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = lateFire.JobId })).Job.CreatedAt.ToDateTimeOffset() > downSince, "the tick missed while the master was down fired after it was back");
        var labelled = (await cluster.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { ["schedule"] = "every3" }, PageSize = 1000 })).Jobs.Select(j => j.Id).Order().ToList();
        Assert.Equal(all.Select(f => f.JobId).Order(), labelled);
        Assert.True(fires.Count >= 5);
    }

    [Fact]
    public async Task Schedule_MissedTicks_SkippedOrRunOnce_NeverOncePerTick()
    {
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string> { ["SCHEDULE_GRACE_SECONDS"] = "1" });
        Assert.Equal(0, (await cluster.DistctlAsync("schedule", "create", "skipper", "--cron", "*/2 * * * * *", "--missed", "skip", "--", "true")).ExitCode);
        Assert.Equal(0, (await cluster.DistctlAsync("schedule", "create", "catcher", "--cron", "*/2 * * * * *", "--missed", "run-once", "--", "true")).ExitCode);
        await FiresAsync(cluster, "skipper", 1);
        await FiresAsync(cluster, "catcher", 1);

        cluster.Master!.Signal(9);
        Assert.True(await cluster.Master.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        var downSince = DateTimeOffset.UtcNow;
        await Eventually.Until(() => DateTimeOffset.UtcNow > downSince + TimeSpan.FromSeconds(9), TimeSpan.FromSeconds(30), "four ticks to pass with the master down");
        var upAt = DateTimeOffset.UtcNow;
        await cluster.StartMasterAsync();

        // Each schedule records the missed ticks once: skipper skips them, catcher runs one job for all of them.
        var skipped = await FireAfterAsync(cluster, "skipper", downSince - TimeSpan.FromSeconds(3), f => f.Outcome == FireOutcome.SkippedMissed);
        Assert.Contains("missed", skipped.Reason, StringComparison.Ordinal);
        var caught = await FireAfterAsync(cluster, "catcher", downSince - TimeSpan.FromSeconds(3), f => f.Reason.Contains("run once", StringComparison.Ordinal));
        Assert.Equal(FireOutcome.Started, caught.Outcome);
        Assert.Equal(TaskState.Succeeded, (await cluster.WaitForJobAsync(caught.JobId, TimeSpan.FromSeconds(30))).State);

        // Once past the downtime they fire as usual; no other fire belongs to a tick missed while the master was down.
        await FireAfterAsync(cluster, "skipper", upAt, f => f.Outcome == FireOutcome.Started);
        await FireAfterAsync(cluster, "catcher", upAt, f => f.Outcome == FireOutcome.Started);
        foreach (var (name, missed) in new[] { ("skipper", skipped), ("catcher", caught) })
        {
            var fires = (await cluster.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = name })).Schedule.RecentFires;
            Assert.Single(fires, f => f.Reason.Contains("missed", StringComparison.Ordinal));
            Assert.DoesNotContain(fires, f => f.At.ToDateTimeOffset() > missed.At.ToDateTimeOffset() && f.At.ToDateTimeOffset() < upAt);
        }
    }

    [Fact]
    public async Task Schedule_OverlapSkipAndQueueOne_NeverTwoAtOnce()
    {
        await using var cluster = await Cluster.StartAsync(2);
        Assert.Equal(0, (await cluster.DistctlAsync("schedule", "create", "skips", "--cron", "* * * * * *", "--overlap", "skip", "--", "sh", "-c", "echo $(date +%s%N) start; sleep 3; echo $(date +%s%N) end")).ExitCode);
        Assert.Equal(0, (await cluster.DistctlAsync("schedule", "create", "queues", "--cron", "* * * * * *", "--overlap", "queue", "--", "sh", "-c", "echo $(date +%s%N) start; sleep 3; echo $(date +%s%N) end")).ExitCode);

        await Eventually.Until(
            async () => (await cluster.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = "queues" })).Schedule.RecentFires.Count(f => f.JobId.Length > 0),
            n => n >= 3, TimeSpan.FromSeconds(60), "three jobs of the queue-one schedule");
        Assert.Equal(0, (await cluster.DistctlAsync("schedule", "pause", "skips")).ExitCode);
        Assert.Equal(0, (await cluster.DistctlAsync("schedule", "pause", "queues")).ExitCode);

        var skips = (await cluster.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = "skips" })).Schedule;
        Assert.Contains(skips.RecentFires, f => f.Outcome == FireOutcome.SkippedOverlap);
        var queues = (await cluster.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = "queues" })).Schedule;
        Assert.Contains(queues.RecentFires, f => f.Outcome == FireOutcome.Queued);
        Assert.Contains(queues.RecentFires, f => f.Outcome == FireOutcome.SkippedOverlap && f.Reason.Contains("already queued", StringComparison.Ordinal));

        // Each schedule's jobs ran one after another: no two of one schedule's processes overlapped.
        foreach (var schedule in new[] { skips, queues })
        {
            var intervals = new List<(long Start, long End)>();
            foreach (var fire in schedule.RecentFires.Where(f => f.JobId.Length > 0))
            {
                await cluster.WaitForJobAsync(fire.JobId, TimeSpan.FromSeconds(60));
                var lines = (await cluster.OutputAsync(fire.JobId))[0].Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                intervals.Add((long.Parse(lines[0].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture), long.Parse(lines[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture)));
            }

            var ordered = intervals.OrderBy(i => i.Start).ToList();
            Assert.True(ordered.Count >= 2, $"{schedule.Name}: {ordered.Count} job(s)");
            for (var i = 1; i < ordered.Count; i++)
            {
                Assert.True(ordered[i].Start >= ordered[i - 1].End, $"{schedule.Name}: a job started before the one before it ended");
            }
        }
    }

    [Fact]
    public async Task Distctl_Schedule_Verbs_AndBadInput()
    {
        await using var cluster = await Cluster.StartAsync(1);
        var created = await cluster.DistctlAsync("schedule", "create", "nightly", "--cron", "30 2 * * *", "--tz", "Europe/Berlin", "--label", "team=ops", "--", "echo", "backup");
        Assert.True(created.ExitCode == 0, created.ToString());
        var schedule = (await cluster.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = "nightly" })).Schedule;
        var next = schedule.NextFire.ToDateTimeOffset();
        var berlin = TimeZoneInfo.ConvertTime(next, TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin"));
        Assert.True(berlin.TimeOfDay == new TimeSpan(2, 30, 0) || berlin.TimeOfDay == new TimeSpan(3, 0, 0), $"next fire {next:O} is {berlin:O} in Berlin");
        Assert.InRange(next - DateTimeOffset.UtcNow, TimeSpan.Zero, TimeSpan.FromHours(25));

        // trigger runs it now, labelled; list and get show it.
        var triggered = await cluster.DistctlAsync("schedule", "trigger", "nightly");
        Assert.True(triggered.ExitCode == 0, triggered.ToString());
        var job = await cluster.WaitForJobAsync(triggered.Stdout.Trim(), TimeSpan.FromSeconds(30));
        Assert.Equal(TaskState.Succeeded, job.State);
        Assert.Equal("nightly", job.Labels["schedule"]);
        Assert.Equal("ops", job.Labels["team"]);
        Assert.Equal(next, (await cluster.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = "nightly" })).Schedule.NextFire.ToDateTimeOffset());
        var list = await cluster.DistctlAsync("schedule", "list");
        Assert.Contains("nightly", list.Stdout, StringComparison.Ordinal);
        Assert.Contains("Europe/Berlin", list.Stdout, StringComparison.Ordinal);
        var get = await cluster.DistctlAsync("schedule", "get", "nightly");
        Assert.Contains(job.Id, get.Stdout, StringComparison.Ordinal);
        Assert.Contains("trigger", get.Stdout, StringComparison.Ordinal);
        Assert.Equal("nightly\n", (await cluster.DistctlAsync("schedule", "list", "-q")).Stdout);

        // pause clears the next fire; resume sets it again from now.
        Assert.Contains("paused", (await cluster.DistctlAsync("schedule", "pause", "nightly")).Stdout, StringComparison.Ordinal);
        Assert.Null((await cluster.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = "nightly" })).Schedule.NextFire);
        Assert.Equal(0, (await cluster.DistctlAsync("schedule", "resume", "nightly")).ExitCode);
        Assert.Equal(next, (await cluster.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = "nightly" })).Schedule.NextFire.ToDateTimeOffset());

        // Bad input: each a clear error, nothing stored.
        var again = await cluster.DistctlAsync("schedule", "create", "nightly", "--cron", "@daily", "--", "true");
        Assert.Contains("already exists", again.Stderr, StringComparison.Ordinal);
        var badCron = await cluster.DistctlAsync("schedule", "create", "bad", "--cron", "61 * * * *", "--", "true");
        Assert.Contains("cron \"61 * * * *\"", badCron.Stderr, StringComparison.Ordinal);
        var badZone = await cluster.DistctlAsync("schedule", "create", "bad", "--cron", "@daily", "--tz", "Mars/Olympus", "--", "true");
        Assert.Contains("time zone \"Mars/Olympus\"", badZone.Stderr, StringComparison.Ordinal);
        var badName = await cluster.DistctlAsync("schedule", "create", "no/slash", "--cron", "@daily", "--", "true");
        Assert.Contains("schedule names are", badName.Stderr, StringComparison.Ordinal);
        var nothing = await cluster.DistctlAsync("schedule", "create", "empty", "--cron", "@daily");
        Assert.Equal(2, nothing.ExitCode);
        var typo = await cluster.DistctlAsync("schedule", "create", "typo", "--cron", "@daily", "--overlp", "skip", "--", "true");
        Assert.Contains("did you mean --overlap", typo.Stderr, StringComparison.Ordinal);
        Assert.Equal("nightly\n", (await cluster.DistctlAsync("schedule", "list", "-q")).Stdout);

        // delete: gone (the job it started stays); the verbs say so for a name that is not there.
        Assert.Equal(0, (await cluster.DistctlAsync("schedule", "delete", "nightly")).ExitCode);
        Assert.Contains("not found", (await cluster.DistctlAsync("schedule", "get", "nightly")).Stderr, StringComparison.Ordinal);
        Assert.NotEqual(0, (await cluster.DistctlAsync("schedule", "trigger", "nightly")).ExitCode);
        Assert.Equal(TaskState.Succeeded, (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id })).Job.State);
    }

    /// <summary>Waits until the schedule has started <paramref name="count"/> jobs; its fires that did, oldest first.</summary>
    private static async Task<List<ScheduleFire>> FiresAsync(Cluster cluster, string name, int count)
    {
        var fires = await Eventually.Until(
            async () => (await cluster.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = name })).Schedule.RecentFires.Where(f => f.JobId.Length > 0).Reverse().ToList(),
            f => f.Count >= count, TimeSpan.FromSeconds(60), $"{count} fires of schedule {name}");
        return fires;
    }

    /// <summary>Waits for a fire of the schedule for a tick after <paramref name="after"/> that <paramref name="matches"/>.</summary>
    private static Task<ScheduleFire> FireAfterAsync(Cluster cluster, string name, DateTimeOffset after, Func<ScheduleFire, bool> matches) =>
        Eventually.Until(
            async () => (await cluster.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = name })).Schedule.RecentFires.FirstOrDefault(f => f.At.ToDateTimeOffset() > after && matches(f))!,
            f => f is not null, TimeSpan.FromSeconds(60), $"a fire of schedule {name} after {after:O}");
}
