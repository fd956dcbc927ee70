using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Master.Options;

namespace DistributedExecutor.Master.Schedules;

/// <summary>
/// Fires the schedules that are due: each tick submits the schedule's job (labelled schedule=NAME) through the same
/// admission as any job, under the idempotency key <c>schedule/NAME/TICK</c>, and then records the fire and moves
/// the next tick in one write. A master that stops between the two finds the job by its key when it starts and
/// records it without submitting again: a tick never fires twice. A tick fired later than SCHEDULE_GRACE_SECONDS
/// (the master was down) is a missed fire: skipped, or run once for all that were missed, never once per tick.
/// </summary>
internal sealed partial class ScheduleRunner(
    IJobStore store,
    JobSubmitter submitter,
    MasterOptions options,
    TimeProvider time,
    ILogger<ScheduleRunner> logger,
    DutyLease? lease = null) : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);

    /// <summary>Counting missed ticks stops here (a per-second schedule after a day away).</summary>
    private const int MissedCountCap = 10_000;

    /// <summary>The tick each schedule last said it is waiting for (said once per tick, not on every try).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTimeOffset> _deferred = new(StringComparer.Ordinal);

    private IScheduleStore Schedules => store.Schedules;

    private TimeSpan Grace => TimeSpan.FromSeconds(options.ScheduleGraceSeconds);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        StoreDuty.EveryAsync(Tick, time, FireDueAsync, LogFailed, stoppingToken, pauseAfterFailure: TimeSpan.FromSeconds(1), lease: lease);

    private async Task FireDueAsync(CancellationToken cancellationToken)
    {
        foreach (var schedule in Schedules.Due(time.GetUtcNow()))
        {
            await FireAsync(schedule, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Submits the schedule's job now, once, whatever its cron and overlap policy (its next tick stays); the job, or why it was refused.</summary>
    public async Task<SubmitResult> TriggerAsync(StoredSchedule schedule, string triggeredBy, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var spec = JobOf(schedule, $"schedule/{schedule.Name}/manual/{Guid.NewGuid():N}");
        var result = await submitter.SubmitAsync(spec, cancellationToken, triggeredBy.Length > 0 ? triggeredBy : schedule.CreatedBy).ConfigureAwait(false);
        var fire = result is SubmitResult.Accepted accepted
            ? new FireRecord(now, FireOutcome.Started, Guid.Parse(accepted.Job.Id), $"triggered{(triggeredBy.Length > 0 ? $" by {triggeredBy}" : "")}", Manual: true)
            : new FireRecord(now, FireOutcome.Refused, null, Reason(result), Manual: true);
        Schedules.RecordFire(schedule.Name, tick: null, fire, next: null);
        return result;
    }

    private async Task FireAsync(StoredSchedule schedule, CancellationToken cancellationToken)
    {
        var tick = schedule.NextFire!.Value;
        var now = time.GetUtcNow();
        var (expression, _) = ScheduleCron.Parse(schedule.Cron);
        var (zone, _) = ScheduleCron.Zone(schedule.TimeZone);
        if (expression is null || zone is null)
        {
            // Checked when it was created; a zone this machine no longer knows stops it until it is fixed.
            Schedules.SetPaused(schedule.Name, paused: true, null);
            LogUnreadable(schedule.Name, schedule.Cron, schedule.TimeZone);
            return;
        }

        var next = ScheduleCron.Next(expression, zone, now > tick ? now : tick);
        var key = $"schedule/{schedule.Name}/{tick.ToUnixTimeMilliseconds()}";
        if (store.FindByIdempotencyKey(key) is { Accepted: true } earlier)
        {
            // Submitted by a master that stopped before it recorded the fire: recorded now, not submitted again.
            Record(schedule, tick, new FireRecord(tick, FireOutcome.Started, earlier.JobId, ""), next);
            return;
        }

        var late = now - tick;
        var missed = late > Grace;
        var missedNote = "";
        if (missed)
        {
            var count = ScheduleCron.Count(expression, zone, tick, now, MissedCountCap);
            missedNote = $"{(count >= MissedCountCap ? $"{MissedCountCap}+" : count)} tick(s) from {tick:u} missed (the master could not fire for {late.TotalSeconds:0}s)";
            if (schedule.Missed != MissedFirePolicy.RunOnce)
            {
                Record(schedule, tick, new FireRecord(tick, FireOutcome.SkippedMissed, null, missedNote + "; skipped"), next);
                LogMissed(schedule.Name, missedNote);
                return;
            }
        }

        if (!missed && next is not null && ScheduleCron.Count(expression, zone, tick.AddTicks(1), now, MissedCountCap) is > 0 and var folded)
        {
            // Late (within the grace period) past later ticks too: one job for them all, not one per tick.
            missedNote = $"fired {late.TotalSeconds:0.0}s late; {folded} later tick(s) folded into it";
        }

        var spec = JobOf(schedule, key);
        var outcome = FireOutcome.Started;
        if (schedule.Overlap is OverlapPolicy.Skip or OverlapPolicy.QueueOne && Schedules.LastJob(schedule.Name) is { } last && !TaskRules.IsTerminal(last.State))
        {
            if (schedule.Overlap == OverlapPolicy.Skip || last.Waiting)
            {
                var why = last.Waiting ? $"job {last.JobId} is already queued after the running one" : $"job {last.JobId} has not ended";
                Record(schedule, tick, new FireRecord(tick, FireOutcome.SkippedOverlap, null, why), next);
                return;
            }

            spec.After.Add(last.JobId.ToString());
            spec.AfterCondition = AfterCondition.Finished;
            outcome = FireOutcome.Queued;
        }

        var result = await submitter.SubmitAsync(spec, cancellationToken, schedule.CreatedBy).ConfigureAwait(false);
        switch (result)
        {
            case SubmitResult.Accepted accepted:
                Record(schedule, tick, new FireRecord(tick, outcome, Guid.Parse(accepted.Job.Id), missed ? missedNote + "; run once" : missedNote), next);
                LogFired(schedule.Name, tick, accepted.Job.Id);
                break;
            case SubmitResult.Refused { Why: Refusal.Unavailable or Refusal.Exhausted } refused:
                // The broker away, the store full or the master at MAX_CONCURRENT_JOBS: the tick stays due and is tried
                // again (past the grace period it becomes a missed fire).
                if (!_deferred.TryGetValue(schedule.Name, out var said) || said != tick)
                {
                    _deferred[schedule.Name] = tick;
                    LogDeferred(schedule.Name, tick, refused.Reason);
                }

                break;
            default:
                Record(schedule, tick, new FireRecord(tick, FireOutcome.Refused, null, Reason(result)), next);
                LogRefused(schedule.Name, tick, Reason(result));
                break;
        }
    }

    private void Record(StoredSchedule schedule, DateTimeOffset tick, FireRecord fire, DateTimeOffset? next) =>
        // False: paused, resumed or deleted meanwhile; the change made stands.
        Schedules.RecordFire(schedule.Name, tick, fire, next);

    /// <summary>The job a fire submits: the schedule's, labelled with it, under the fire's idempotency key.</summary>
    private static JobSpec JobOf(StoredSchedule schedule, string idempotencyKey)
    {
        var spec = schedule.Job.Clone();
        spec.Labels["schedule"] = schedule.Name;
        spec.IdempotencyKey = idempotencyKey;
        return spec;
    }

    private static string Reason(SubmitResult result) => result switch
    {
        SubmitResult.Invalid invalid => "invalid job: " + string.Join("; ", invalid.Problems),
        SubmitResult.Refused refused => refused.Reason,
        _ => "",
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Schedule {Schedule} fired for {Tick:u}: job {JobId}")]
    private partial void LogFired(string schedule, DateTimeOffset tick, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Schedule {Schedule}: {What}; skipped (missed-fire policy skip)")]
    private partial void LogMissed(string schedule, string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Schedule {Schedule}: the job for {Tick:u} was refused: {Reason}")]
    private partial void LogRefused(string schedule, DateTimeOffset tick, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Schedule {Schedule}: the job for {Tick:u} waits ({Reason}); tried again")]
    private partial void LogDeferred(string schedule, DateTimeOffset tick, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Schedule {Schedule}: cron \"{Cron}\" or time zone \"{Zone}\" can no longer be read; paused")]
    private partial void LogUnreadable(string schedule, string cron, string zone);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Firing due schedules failed; they stay due")]
    private partial void LogFailed(Exception exception);
}
