using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Schedules;

/// <summary>A schedule as stored: what the runner needs to fire it.</summary>
internal sealed record StoredSchedule(
    string Name,
    string Cron,
    string TimeZone,
    JobSpec Job,
    OverlapPolicy Overlap,
    MissedFirePolicy Missed,
    bool Paused,
    DateTimeOffset? NextFire,
    string CreatedBy,
    DateTimeOffset CreatedAt);

/// <summary>What one tick (or trigger) did, as recorded.</summary>
internal sealed record FireRecord(DateTimeOffset At, FireOutcome Outcome, Guid? JobId, string Reason, bool Manual = false);

/// <summary>Schedules and their fires, kept in the master's store so a restart neither loses nor repeats a fire.</summary>
internal interface IScheduleStore
{
    /// <summary>Stores a new schedule; false when the name is taken.</summary>
    bool Create(StoredSchedule schedule);

    StoredSchedule? Find(string name);

    /// <summary>The schedule as the API shows it: its last fires (newest first) with their jobs' states now.</summary>
    Schedule? Get(string name);

    IReadOnlyList<Schedule> List();

    /// <summary>Pauses (next fire cleared) or resumes (from <paramref name="nextFire"/>); false when there is no such schedule.</summary>
    bool SetPaused(string name, bool paused, DateTimeOffset? nextFire);

    bool Delete(string name);

    /// <summary>The schedules not paused whose next fire is at or before <paramref name="now"/>.</summary>
    IReadOnlyList<StoredSchedule> Due(DateTimeOffset now);

    /// <summary>The job the schedule's latest fire started: its id, state and whether it still waits for an earlier one.</summary>
    (Guid JobId, TaskState State, bool Waiting)? LastJob(string name);

    /// <summary>
    /// Records <paramref name="fire"/> and moves the schedule's next fire from <paramref name="tick"/> to
    /// <paramref name="next"/>, in one write; false (nothing recorded) when the schedule is gone, or its next fire is no
    /// longer <paramref name="tick"/> (paused, resumed or deleted meanwhile). A trigger (<paramref name="tick"/> null)
    /// leaves the next fire as it is.
    /// </summary>
    bool RecordFire(string name, DateTimeOffset? tick, FireRecord fire, DateTimeOffset? next);
}
