using System.CommandLine;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli.Commands;

/// <summary><c>distctl status &lt;job-id&gt;</c>: state, exit code, attempts, worker and times.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var jobId = new Argument<string>("job-id") { Description = "The job id distctl run printed" };
        var output = OutputFormat.Option();
        var quiet = OutputFormat.Quiet();
        var tasks = new Option<bool>("--tasks") { Description = "Every task in detail, also for jobs of more than 20 tasks (which show a summary)" };
        var status = new Command("status", "Show a job: state, exit code, attempts, worker, times") { jobId, output, quiet, tasks };
        status.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            using var master = GlobalOptions.Connect(result);
            var reply = await master.Jobs.GetJobAsync(new GetJobRequest { JobId = result.GetValue(jobId) }, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (OutputFormat.TryWrite(OutputFormat.Of(result, output, quiet), [reply.Job], j => j.Id, single: true))
            {
                return ExitCodes.Success;
            }

            Print(reply.Job, everyTask: result.GetValue(tasks));
            if (reply.Job.Labels.TryGetValue(WorkflowSubmit.RunLabel, out var run))
            {
                await PrintWorkflowAsync(master, reply.Job, run, cancellationToken).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }));
        return status;
    }

    /// <summary>The run of a workflow the job belongs to: every job of it, in the order submitted, with its state and needs.</summary>
    private static async Task PrintWorkflowAsync(MasterConnection master, Job job, string run, CancellationToken cancellationToken)
    {
        var siblings = (await master.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { [WorkflowSubmit.RunLabel] = run }, PageSize = 1000 }, cancellationToken: cancellationToken).ConfigureAwait(false))
            .Jobs.OrderBy(j => j.CreatedAt.ToDateTimeOffset()).ToList();
        var o = Console.Out;
        o.WriteLine();
        o.WriteLine(Formatting.Safe($"Workflow:  {job.Labels.GetValueOrDefault(WorkflowSubmit.NameLabel, "")} (run {run}, {siblings.Count} jobs)"));
        foreach (var sibling in siblings)
        {
            var mark = sibling.Id == job.Id ? "*" : " ";
            var needs = sibling.Labels.TryGetValue(WorkflowSubmit.NeedsLabel, out var keys) ? "  after " + keys.Replace(",", ", ", StringComparison.Ordinal) : "";
            o.WriteLine(Formatting.Safe($" {mark} {sibling.Labels.GetValueOrDefault(WorkflowSubmit.JobLabel, ""),-16} {sibling.Id}  ") + Formatting.StateCell(sibling.State, 10) + Formatting.Safe(needs));
        }
    }

    /// <summary>Jobs with more tasks than this show a summary instead of every task (unless --tasks).</summary>
    private const int SummaryAbove = 20;

    private static void Print(Job job, bool everyTask)
    {
        var o = Console.Out;
        o.WriteLine(Formatting.Safe($"Job:       {job.Id}"));
        o.WriteLine("State:     " + Formatting.StateCell(job.State));
        o.WriteLine(Formatting.Safe($"Pool:      {job.Pool}"));
        o.WriteLine(Formatting.Safe($"Created:   {Formatting.Time(job.CreatedAt)}"));
        o.WriteLine(Formatting.Safe($"Finished:  {Formatting.Time(job.FinishedAt)}"));
        if (job.After.Count > 0)
        {
            o.WriteLine(Formatting.Safe($"After:     {string.Join(", ", job.After)}"));
        }

        if (job.ConcurrencyKey.Length > 0)
        {
            o.WriteLine(Formatting.Safe($"Key:       {job.ConcurrencyKey} (distctl limits list)"));
        }

        // The job's priority, as the master stamped it on its tasks.
        if (job.Tasks.FirstOrDefault()?.Spec?.Priority is Priority.High or Priority.Low)
        {
            o.WriteLine($"Priority:  {(job.Tasks[0].Spec.Priority == Priority.High ? "high" : "low")}");
        }

        if (job.Counts is { Waiting: > 0 } counts)
        {
            o.WriteLine(Formatting.Safe($"Waiting:   {counts.Waiting} task(s) held in the master ({(job.ConcurrencyKey.Length > 0 ? $"for key {job.ConcurrencyKey}" : "")}{(job.ConcurrencyKey.Length > 0 && job.MaxParallel > 0 ? " or " : "")}{(job.MaxParallel > 0 ? $"--max-parallel {job.MaxParallel}" : "")})"));
        }

        if (job.NotBefore is not null)
        {
            o.WriteLine(Formatting.Safe($"Starts at: {Formatting.Time(job.NotBefore)}"));
        }
        if (job.SubmittedBy.Length > 0)
        {
            o.WriteLine(Formatting.Safe($"Submitted by: {job.SubmittedBy}"));
        }

        if (job.CanceledBy.Length > 0)
        {
            o.WriteLine(Formatting.Safe($"Canceled by:  {job.CanceledBy}"));
        }
        if (job.Labels.Count > 0)
        {
            o.WriteLine(Formatting.Safe($"Labels:    {string.Join(", ", job.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"))}"));
        }

        if (job.IdempotencyKey.Length > 0)
        {
            o.WriteLine(Formatting.Safe($"Key:       {job.IdempotencyKey}"));
        }

        o.WriteLine(Formatting.Safe($"Tasks:     {string.Join(", ", job.Tasks.GroupBy(t => t.State).OrderBy(g => g.Key).Select(g => $"{g.Count()} {Formatting.State(g.Key)}"))}"));
        var failed = job.Tasks.Where(t => t.State is TaskState.Failed or TaskState.TimedOut or TaskState.Canceled).ToList();
        if (failed.Count > 0)
        {
            o.WriteLine(Formatting.Safe($"Failed:    {string.Join(", ", failed.Select(t => t.Spec.Item.Length > 0 ? t.Spec.Item : $"task {t.Index}"))}"));
        }

        if (job.Tasks.Count > SummaryAbove && !everyTask)
        {
            // A summary: what is still running, the slowest tasks, and how to see every one.
            var running = job.Tasks.Where(t => t.State == TaskState.Running).ToList();
            if (running.Count > 0)
            {
                o.WriteLine(Formatting.Safe($"Running:   {string.Join(", ", running.Take(10).Select(Name))}{(running.Count > 10 ? " …" : "")}"));
            }

            var slowest = job.Tasks.Where(t => t.StartedAt is not null && t.FinishedAt is not null)
                .OrderByDescending(t => t.FinishedAt.ToDateTimeOffset() - t.StartedAt.ToDateTimeOffset()).Take(5).ToList();
            if (slowest.Count > 0)
            {
                o.WriteLine(Formatting.Safe($"Slowest:   {string.Join(", ", slowest.Select(t => $"{Name(t)} {Formatting.Duration(t.StartedAt, t.FinishedAt)}"))}"));
            }

            o.WriteLine($"({job.Tasks.Count} tasks: every one with --tasks, or -o json)");
            return;
        }

        foreach (var task in job.Tasks)
        {
            o.WriteLine();
            o.WriteLine(Formatting.Safe($"Task {task.Index}:    {task.Id}"));
            o.WriteLine(Formatting.Safe($"  Command:   {Formatting.Command(task.Spec)}"));
            if (task.Spec.Item.Length > 0)
            {
                o.WriteLine(Formatting.Safe($"  Item:      {task.Spec.Item}"));
            }

            o.WriteLine("  State:     " + Formatting.StateCell(task.State));
            o.WriteLine(Formatting.Safe($"  Exit code: {(task.HasExitCode ? task.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-")}{(task.HasSignal ? $" (signal {task.Signal})" : "")}"));
            if (task.Error.Length > 0)
            {
                o.WriteLine(Formatting.Safe($"  Error:     {task.Error}"));
            }

            o.WriteLine(Formatting.Safe($"  Worker:    {(task.WorkerId.Length > 0 ? task.WorkerId : "-")}"));
            o.WriteLine(Formatting.Safe($"  Started:   {Formatting.Time(task.StartedAt)}"));
            o.WriteLine(Formatting.Safe($"  Finished:  {Formatting.Time(task.FinishedAt)}"));
            if (task.Truncated)
            {
                o.WriteLine("  Output:    truncated at the cap");
            }

            o.WriteLine(Formatting.Safe($"  Attempts:  {task.Attempts.Count}"));
            foreach (var attempt in task.Attempts)
            {
                var exit = attempt.HasExitCode ? $" exit {attempt.ExitCode}" : "";
                var error = attempt.Error.Length > 0 ? $" ({attempt.Error})" : "";
                var cause = attempt.Cause.Length > 0 ? $" [{attempt.Cause}]" : "";
                o.WriteLine(Formatting.Safe($"    #{attempt.Number}{cause} {Formatting.State(attempt.State)}{exit} on {attempt.WorkerId}, {Formatting.Time(attempt.StartedAt)}, {Formatting.Duration(attempt.StartedAt, attempt.FinishedAt)}{error}"));
            }
        }
    }

    private static string Name(JobTask task) => task.Spec.Item.Length > 0 ? task.Spec.Item : $"task {task.Index}";
}
