using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Schedules;
using Google.Protobuf.WellKnownTypes;
using System.Data.Common;
using static DistributedExecutor.Master.Jobs.Store.StoreSql;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// Schedules and their fires in the job store (tables schedules, schedule_fires), written through its one writer. The
/// runner's small reads (what is due, a schedule's last job) go on the writer's connection, always current; the API's
/// lists (every schedule with its last fires) on connections of their own, so a dashboard never holds writes up.
/// </summary>
internal sealed class ScheduleRows(StoreWriter writer, StoreBackend backend) : IScheduleStore
{
    /// <summary>Fires kept per schedule (the newest).</summary>
    public const int KeptFires = 20;

    private const string Columns = "name, cron, time_zone, spec, overlap, missed, paused, next_fire, created_by, created_at";

    public bool Create(StoredSchedule schedule) => writer.Write(() =>
        writer.Execute($"INSERT INTO schedules({Columns}) VALUES(@name, @cron, @tz, @spec, @overlap, @missed, 0, @next, @by, @at) ON CONFLICT DO NOTHING",
            ("@name", schedule.Name), ("@cron", schedule.Cron), ("@tz", schedule.TimeZone), ("@spec", Google.Protobuf.MessageExtensions.ToByteArray(schedule.Job)),
            ("@overlap", (int)schedule.Overlap), ("@missed", (int)schedule.Missed), ("@next", schedule.NextFire?.ToUnixTimeMilliseconds()),
            ("@by", schedule.CreatedBy.Length > 0 ? schedule.CreatedBy : null), ("@at", schedule.CreatedAt.ToUnixTimeMilliseconds())) == 1);

    public StoredSchedule? Find(string name) =>
        writer.Read(_ => writer.Rows($"SELECT {Columns} FROM schedules WHERE name = @name", Read, ("@name", name))).FirstOrDefault();

    public Schedule? Get(string name)
    {
        using var connection = backend.Open();
        return Query(connection, $"SELECT {Columns} FROM schedules WHERE name = @name", Read, ("@name", name)).Select(s => WithFires(connection, s)).FirstOrDefault();
    }

    public IReadOnlyList<Schedule> List()
    {
        using var connection = backend.Open();
        return [.. Query(connection, $"SELECT {Columns} FROM schedules ORDER BY name", Read).Select(s => WithFires(connection, s))];
    }

    public bool SetPaused(string name, bool paused, DateTimeOffset? nextFire) => writer.Write(() =>
        writer.Execute("UPDATE schedules SET paused = @paused, next_fire = @next WHERE name = @name",
            ("@name", name), ("@paused", paused ? 1 : 0), ("@next", paused ? null : nextFire?.ToUnixTimeMilliseconds())) == 1);

    public bool Delete(string name) => writer.Write(() =>
    {
        writer.Execute("DELETE FROM schedule_fires WHERE schedule = @name", ("@name", name));
        return writer.Execute("DELETE FROM schedules WHERE name = @name", ("@name", name)) == 1;
    });

    public IReadOnlyList<StoredSchedule> Due(DateTimeOffset now) => writer.Read(_ =>
        writer.Rows($"SELECT {Columns} FROM schedules WHERE paused = 0 AND next_fire IS NOT NULL AND next_fire <= @now ORDER BY next_fire", Read,
            ("@now", now.ToUnixTimeMilliseconds())));

    public (Guid JobId, TaskState State, bool Waiting)? LastJob(string name) => writer.Read(_ => writer.Rows("""
        SELECT j.id, j.state, j.waiting FROM schedule_fires f JOIN jobs j ON j.id = f.job_id
        WHERE f.schedule = @name ORDER BY f.seq DESC LIMIT 1
        """,
        reader => (Guid.Parse(reader.GetString(0)), StoredStates.FromColumn(reader.GetInt32(1)), reader.GetInt32(2) == 1), ("@name", name))
        .Select(row => ((Guid, TaskState, bool)?)row).FirstOrDefault());

    public bool RecordFire(string name, DateTimeOffset? tick, FireRecord fire, DateTimeOffset? next) => writer.Write(() =>
    {
        if (tick is { } due)
        {
            if (writer.Execute("UPDATE schedules SET next_fire = @next WHERE name = @name AND paused = 0 AND next_fire = @tick",
                ("@name", name), ("@tick", due.ToUnixTimeMilliseconds()), ("@next", next?.ToUnixTimeMilliseconds())) == 0)
            {
                return false;
            }
        }
        else if (writer.Scalar("SELECT 1 FROM schedules WHERE name = @name", ("@name", name)) is null)
        {
            return false;
        }

        writer.Execute("INSERT INTO schedule_fires(schedule, at, outcome, job_id, reason, manual) VALUES(@name, @at, @outcome, @job, @reason, @manual)",
            ("@name", name), ("@at", fire.At.ToUnixTimeMilliseconds()), ("@outcome", (int)fire.Outcome), ("@job", fire.JobId is { } job ? Id(job) : null),
            ("@reason", fire.Reason.Length > 0 ? fire.Reason : null), ("@manual", fire.Manual ? 1 : 0));
        writer.Execute("DELETE FROM schedule_fires WHERE schedule = @name AND seq <= (SELECT seq FROM schedule_fires WHERE schedule = @name ORDER BY seq DESC LIMIT 1 OFFSET @keep)",
            ("@name", name), ("@keep", KeptFires));
        return true;
    });

    private static StoredSchedule Read(DbDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        JobSpec.Parser.ParseFrom((byte[])reader[3]),
        (OverlapPolicy)reader.GetInt32(4),
        (MissedFirePolicy)reader.GetInt32(5),
        reader.GetInt32(6) == 1,
        reader.IsDBNull(7) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7)),
        reader.IsDBNull(8) ? "" : reader.GetString(8),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(9)));

    private static List<T> Query<T>(DbConnection connection, string sql, Func<DbDataReader, T> read, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    /// <summary>The API's record, with the last fires and the states of their jobs now.</summary>
    private static Schedule WithFires(DbConnection connection, StoredSchedule stored)
    {
        var schedule = new Schedule
        {
            Name = stored.Name,
            Cron = stored.Cron,
            TimeZone = stored.TimeZone,
            Job = stored.Job,
            Overlap = stored.Overlap,
            Missed = stored.Missed,
            Paused = stored.Paused,
            NextFire = stored.NextFire is { } next ? Timestamp.FromDateTimeOffset(next) : null,
            CreatedBy = stored.CreatedBy,
            CreatedAt = Timestamp.FromDateTimeOffset(stored.CreatedAt),
        };
        schedule.RecentFires.AddRange(Query(connection, """
            SELECT f.at, f.outcome, f.job_id, f.reason, f.manual, j.state, j.waiting FROM schedule_fires f LEFT JOIN jobs j ON j.id = f.job_id
            WHERE f.schedule = @name ORDER BY f.seq DESC LIMIT @keep
            """,
            reader => new ScheduleFire
            {
                At = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(0))),
                Outcome = (FireOutcome)reader.GetInt32(1),
                JobId = reader.IsDBNull(2) ? "" : reader.GetString(2),
                Reason = reader.IsDBNull(3) ? "" : reader.GetString(3),
                Manual = reader.GetInt32(4) == 1,
                JobState = reader.IsDBNull(5) ? TaskState.Unspecified : reader.GetInt32(6) == 1 ? TaskState.Waiting : StoredStates.FromColumn(reader.GetInt32(5)),
            },
            ("@name", stored.Name), ("@keep", KeptFires)));
        return schedule;
    }
}
