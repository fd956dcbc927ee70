using DistributedExecutor.Contracts.Naming;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Executors;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Master.Schedules;
using Grpc.Core;
using V1 = DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Services;

/// <summary>Recurring jobs: create, inspect, pause, resume, delete and trigger schedules (fired by <see cref="ScheduleRunner"/>).</summary>
internal sealed class ScheduleService(IJobStore store, SubmissionValidator validator, ScheduleRunner runner, TimeProvider time) : V1.ScheduleService.ScheduleServiceBase
{
    private IScheduleStore Schedules => store.Schedules;

    public override Task<CreateScheduleResponse> CreateSchedule(CreateScheduleRequest request, ServerCallContext context)
    {
        var schedule = request.Schedule ?? throw RpcErrors.Invalid("schedule is required");
        var problems = new List<string>();
        if (!NameRules.IsValidScheduleName(schedule.Name))
        {
            problems.Add($"name \"{SpecText.Printable(schedule.Name)}\": {NameRules.ScheduleNameRule}");
        }

        var (expression, cronProblem) = ScheduleCron.Parse(schedule.Cron);
        var (zone, zoneProblem) = ScheduleCron.Zone(schedule.TimeZone);
        problems.AddRange(new[] { cronProblem, zoneProblem }.OfType<string>());
        if (!Enum.IsDefined(schedule.Overlap) || !Enum.IsDefined(schedule.Missed))
        {
            problems.Add("overlap must be allow, skip or queue-one, and missed skip or run-once");
        }

        if (schedule.Job is null)
        {
            problems.Add("job is required: what each fire runs");
        }
        else
        {
            if (schedule.Job.IdempotencyKey.Length > 0 || schedule.Job.NotBefore is not null || schedule.Job.After.Count > 0)
            {
                problems.Add("job: idempotency_key, not_before and after do not go with a schedule (its ticks say when each fire runs, and each fire is submitted once)");
            }

            var verdict = validator.Validate(schedule.Job);
            problems.AddRange(verdict.Problems.Select(p => "job: " + p));
            if (verdict.Denied is { } denied && problems.Count == 0)
            {
                throw RpcErrors.Denied("refused: " + denied);
            }
        }

        if (problems.Count > 0)
        {
            throw RpcErrors.Invalid("invalid schedule: " + string.Join("; ", problems));
        }

        var now = time.GetUtcNow();
        var next = ScheduleCron.Next(expression!, zone!, now) ?? throw RpcErrors.Invalid($"invalid schedule: cron \"{schedule.Cron}\" never fires after now");
        var stored = new StoredSchedule(schedule.Name, schedule.Cron.Trim(), schedule.TimeZone, schedule.Job!, Normal(schedule.Overlap), Normal(schedule.Missed),
            Paused: false, next, TokenAuthInterceptor.CallerOf(context).Name, now);
        if (!Schedules.Create(stored))
        {
            throw RpcErrors.AlreadyExists($"schedule {schedule.Name} already exists (delete it first, or pick another name)");
        }

        return Task.FromResult(new CreateScheduleResponse { Schedule = Get(schedule.Name) });
    }

    public override Task<GetScheduleResponse> GetSchedule(GetScheduleRequest request, ServerCallContext context) =>
        Task.FromResult(new GetScheduleResponse { Schedule = Get(request.Name) });

    public override Task<ListSchedulesResponse> ListSchedules(ListSchedulesRequest request, ServerCallContext context)
    {
        var response = new ListSchedulesResponse();
        response.Schedules.AddRange(Schedules.List());
        return Task.FromResult(response);
    }

    public override Task<PauseScheduleResponse> PauseSchedule(PauseScheduleRequest request, ServerCallContext context)
    {
        Found(Schedules.SetPaused(request.Name, paused: true, null), request.Name);
        return Task.FromResult(new PauseScheduleResponse { Schedule = Get(request.Name) });
    }

    public override Task<ResumeScheduleResponse> ResumeSchedule(ResumeScheduleRequest request, ServerCallContext context)
    {
        var stored = Schedules.Find(request.Name) ?? throw RpcErrors.NotFound($"schedule {request.Name}");
        var (expression, cronProblem) = ScheduleCron.Parse(stored.Cron);
        var (zone, zoneProblem) = ScheduleCron.Zone(stored.TimeZone);
        if (expression is null || zone is null)
        {
            throw RpcErrors.FailedPrecondition($"schedule {stored.Name} cannot resume: {cronProblem ?? zoneProblem}");
        }

        // From the next tick after now: the ticks while it was paused are not caught up.
        Found(Schedules.SetPaused(request.Name, paused: false, ScheduleCron.Next(expression, zone, time.GetUtcNow())), request.Name);
        return Task.FromResult(new ResumeScheduleResponse { Schedule = Get(request.Name) });
    }

    public override Task<DeleteScheduleResponse> DeleteSchedule(DeleteScheduleRequest request, ServerCallContext context)
    {
        Found(Schedules.Delete(request.Name), request.Name);
        return Task.FromResult(new DeleteScheduleResponse());
    }

    public override async Task<TriggerScheduleResponse> TriggerSchedule(TriggerScheduleRequest request, ServerCallContext context)
    {
        var stored = Schedules.Find(request.Name) ?? throw RpcErrors.NotFound($"schedule {request.Name}");
        var result = await runner.TriggerAsync(stored, TokenAuthInterceptor.CallerOf(context).Name, context.CancellationToken).ConfigureAwait(false);
        return new TriggerScheduleResponse { Job = RpcErrors.JobOrThrow(result) };
    }

    private Schedule Get(string name) => Schedules.Get(name) ?? throw RpcErrors.NotFound($"schedule {name}");

    private static void Found(bool found, string name)
    {
        if (!found)
        {
            throw RpcErrors.NotFound($"schedule {name}");
        }
    }

    private static OverlapPolicy Normal(OverlapPolicy policy) => policy == OverlapPolicy.Unspecified ? OverlapPolicy.Allow : policy;

    private static MissedFirePolicy Normal(MissedFirePolicy policy) => policy == MissedFirePolicy.Unspecified ? MissedFirePolicy.Skip : policy;
}
