using System.CommandLine;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli.Commands;

/// <summary>
/// <c>distctl schedule create|list|get|pause|resume|delete|trigger</c>: recurring jobs kept by the master. Each tick of
/// a schedule's cron expression submits its job as an ordinary job labelled schedule=NAME.
/// </summary>
internal static class ScheduleCommand
{
    public static Command Create()
    {
        var job = JobOptions.Create();
        var name = new Argument<string>("name") { Description = "The schedule's name (letters, digits, '.', '_', '-')" };
        var cron = new Option<string>("--cron") { Description = "When it fires: five fields (minute hour day-of-month month day-of-week), six with seconds first, or @hourly, @daily…", Required = true };
        var zone = new Option<string?>("--tz") { Description = "The time zone the cron is read in (an IANA name such as Europe/Berlin; default UTC)" };
        var overlap = new Option<string?>("--overlap") { Description = "While its last job runs, a tick: allow (start another; default), skip, or queue (one job that runs after it)" };
        var missed = new Option<string?>("--missed") { Description = "Ticks missed while the master was down: skip (default) or run-once (one job for all of them)" };
        var create = new Command("create", "Create a schedule: the job given as to distctl run, fired at every tick") { name, cron, zone, overlap, missed };
        foreach (var option in job.All)
        {
            create.Options.Add(option);
        }

        create.Arguments.Add(job.Program);
        create.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            RunCommand.RejectUnknownOptions(result, create, job.Program);
            var (spec, _) = job.SpecOf(result);
            var schedule = new Schedule
            {
                Name = result.GetValue(name)!,
                Cron = result.GetValue(cron)!,
                TimeZone = result.GetValue(zone) ?? "",
                Job = spec,
                Overlap = result.GetValue(overlap)?.ToLowerInvariant() switch
                {
                    null or "allow" => OverlapPolicy.Allow,
                    "skip" => OverlapPolicy.Skip,
                    "queue" or "queue-one" => OverlapPolicy.QueueOne,
                    var other => throw new UsageException($"--overlap {other}: use allow, skip or queue"),
                },
                Missed = result.GetValue(missed)?.ToLowerInvariant() switch
                {
                    null or "skip" => MissedFirePolicy.Skip,
                    "run-once" or "once" => MissedFirePolicy.RunOnce,
                    var other => throw new UsageException($"--missed {other}: use skip or run-once"),
                },
            };
            using var master = GlobalOptions.Connect(result);
            var created = await master.Schedules.CreateScheduleAsync(new CreateScheduleRequest { Schedule = schedule }, cancellationToken: cancellationToken).ConfigureAwait(false);
            PrintOne(created.Schedule);
            return ExitCodes.Success;
        }));

        var output = OutputFormat.Option();
        var quiet = OutputFormat.Quiet();
        var list = new Command("list", "Every schedule: its cron, next fire, last fire and its job's state") { output, quiet };
        list.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            using var master = GlobalOptions.Connect(result);
            var reply = await master.Schedules.ListSchedulesAsync(new ListSchedulesRequest(), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!OutputFormat.TryWrite(OutputFormat.Of(result, output, quiet), reply.Schedules, s => s.Name))
            {
                PrintList(reply.Schedules);
            }

            return ExitCodes.Success;
        }));

        var getName = new Argument<string>("name") { Description = "The schedule" };
        var getOutput = OutputFormat.Option();
        var get = new Command("get", "One schedule: its job, policies, next fire and last fires") { getName, getOutput };
        get.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            using var master = GlobalOptions.Connect(result);
            var reply = await master.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = result.GetValue(getName)! }, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!OutputFormat.TryWrite(OutputFormat.Of(result, getOutput), [reply.Schedule], s => s.Name, single: true))
            {
                PrintOne(reply.Schedule);
            }

            return ExitCodes.Success;
        }));

        return new Command("schedule", "Recurring jobs: each tick of a cron expression runs the job (labelled schedule=NAME)")
        {
            create, list, get,
            Simple("pause", "Stop its fires until resumed", async (m, n, c) => PrintOne((await m.Schedules.PauseScheduleAsync(new PauseScheduleRequest { Name = n }, cancellationToken: c)).Schedule)),
            Simple("resume", "Fire again from its next tick after now (paused ticks are not caught up)", async (m, n, c) => PrintOne((await m.Schedules.ResumeScheduleAsync(new ResumeScheduleRequest { Name = n }, cancellationToken: c)).Schedule)),
            Simple("delete", "Remove it (the jobs it started stay)", (m, n, c) => m.Schedules.DeleteScheduleAsync(new DeleteScheduleRequest { Name = n }, cancellationToken: c).ResponseAsync),
            Simple("trigger", "Run its job now, once (its next tick is unchanged); prints the job id", async (m, n, c) => Console.Out.WriteLine((await m.Schedules.TriggerScheduleAsync(new TriggerScheduleRequest { Name = n }, cancellationToken: c)).Job.Id)),
        };
    }

    /// <summary>A verb that takes the schedule's name and makes one call.</summary>
    private static Command Simple(string verb, string description, Func<MasterConnection, string, CancellationToken, Task> call)
    {
        var name = new Argument<string>("name") { Description = "The schedule" };
        var command = new Command(verb, description) { name };
        command.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            using var master = GlobalOptions.Connect(result);
            await call(master, result.GetValue(name)!, cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static void PrintList(IEnumerable<Schedule> schedules)
    {
        Console.Out.WriteLine($"{"NAME",-20}  {"CRON",-18}  {"TZ",-14}  {"NEXT",-19}  {"LAST",-19}  STATE");
        foreach (var s in schedules)
        {
            var last = s.RecentFires.FirstOrDefault();
            var lastState = last is null ? "" : last.JobId.Length > 0 ? Formatting.StateCell(last.JobState) : Outcome(last.Outcome);
            Console.Out.WriteLine(Formatting.Safe($"{s.Name,-20}  {s.Cron,-18}  {(s.TimeZone.Length > 0 ? s.TimeZone : "UTC"),-14}  {(s.Paused ? "paused" : Formatting.Time(s.NextFire)),-19}  {(last is null ? "-" : Formatting.Time(last.At)),-19}  ") + lastState);
        }
    }

    private static void PrintOne(Schedule s)
    {
        Console.Out.WriteLine(Formatting.Safe($"Schedule:   {s.Name}"));
        Console.Out.WriteLine(Formatting.Safe($"Cron:       {s.Cron} ({(s.TimeZone.Length > 0 ? s.TimeZone : "UTC")})"));
        Console.Out.WriteLine(Formatting.Safe($"Runs:       {(s.Job.Tasks.Count > 0 ? Formatting.Command(s.Job.Tasks[0]) : "")}{(s.Job.Tasks.Count > 1 ? $" (+{s.Job.Tasks.Count - 1} tasks)" : "")}"));
        Console.Out.WriteLine($"Overlap:    {s.Overlap switch { OverlapPolicy.Skip => "skip", OverlapPolicy.QueueOne => "queue one", _ => "allow" }}; missed: {(s.Missed == MissedFirePolicy.RunOnce ? "run once" : "skip")}");
        Console.Out.WriteLine($"Next fire:  {(s.Paused ? "paused" : Formatting.Time(s.NextFire))}");
        if (s.CreatedBy.Length > 0)
        {
            Console.Out.WriteLine(Formatting.Safe($"Created by: {s.CreatedBy}"));
        }

        if (s.RecentFires.Count > 0)
        {
            Console.Out.WriteLine("Last fires:");
            foreach (var f in s.RecentFires)
            {
                var what = f.JobId.Length > 0 ? $"job {f.JobId} " + Formatting.StateCell(f.JobState) : Outcome(f.Outcome);
                Console.Out.WriteLine(Formatting.Safe($"  {Formatting.Time(f.At)}  {(f.Manual ? "trigger " : "")}") + what + Formatting.Safe(f.Reason.Length > 0 ? $"  ({f.Reason})" : ""));
            }
        }
    }

    private static string Outcome(FireOutcome outcome) => outcome switch
    {
        FireOutcome.SkippedOverlap => "skipped (still running)",
        FireOutcome.SkippedMissed => "skipped (missed)",
        FireOutcome.Refused => "refused",
        FireOutcome.Queued => "queued",
        _ => "started",
    };
}
