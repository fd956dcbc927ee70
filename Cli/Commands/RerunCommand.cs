using System.CommandLine;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli.Commands;

/// <summary>
/// <c>distctl rerun &lt;job-id&gt; [--failed]</c>: a new job from an earlier one's tasks (all, or those that did not
/// succeed), same pool, limits and labels, linked to it by the label <c>rerun-of</c>.
/// </summary>
internal static class RerunCommand
{
    public const string LinkLabel = "rerun-of";

    public static Command Create()
    {
        var jobId = new Argument<string>("job-id") { Description = "The job to run again (or a unique prefix of its id)" };
        var failed = new Option<bool>("--failed") { Description = "Only the tasks that did not succeed (failed, timed out, canceled)" };
        var wait = new Option<bool>("--wait", "-w") { Description = "Stream the output and exit with the new job's exit code" };
        var rerun = new Command("rerun", "Submit a new job with an earlier job's tasks (all, or --failed); prints the new job id") { jobId, failed, wait };
        rerun.SetAction((result, _) => CliErrors.Guard(async () =>
        {
            var cancellationToken = Interrupts.Token;
            using var master = GlobalOptions.Connect(result);
            var original = (await master.Jobs.GetJobAsync(new GetJobRequest { JobId = result.GetValue(jobId) }, cancellationToken: cancellationToken).ConfigureAwait(false)).Job;
            if (original.Tasks.Any(t => t.Spec.Worker.Length > 0))
            {
                throw new UsageException($"job {original.Id} ran once on every worker (--all-workers): submit it again to reach the workers alive now");
            }

            var tasks = original.Tasks.OrderBy(t => t.Index).Where(t => !result.GetValue(failed) || t.State != TaskState.Succeeded).ToList();
            if (tasks.Count == 0)
            {
                Console.Error.WriteLine($"distctl: every task of job {original.Id} succeeded; nothing to run again (without --failed, all run)");
                return ExitCodes.Success;
            }

            var spec = new JobSpec { Pool = original.Pool, MaxParallel = original.MaxParallel, MaxErrors = original.MaxErrors };
            spec.Labels.Add(original.Labels);
            spec.Labels[LinkLabel] = original.Id;
            spec.Tasks.AddRange(tasks.Select(t => t.Spec.Clone()));
            var submitted = await master.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec }, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!result.GetValue(wait))
            {
                Console.Out.WriteLine(submitted.Job.Id);
                return ExitCodes.Success;
            }

            var prefixes = spec.Tasks.Any(t => t.Item.Length > 0) ? spec.Tasks.Select(t => t.Item).ToList() : null;
            Console.Error.WriteLine($"distctl: job {submitted.Job.Id} runs {tasks.Count} task(s) of {original.Id} again");
            var ended = await JobWatcher.WatchAsync(master.Jobs, submitted.Job.Id, follow: true, prefixes, cancellationToken).ConfigureAwait(false);
            return JobWatcher.ExitCodeOf(ended);
        }));
        return rerun;
    }
}
