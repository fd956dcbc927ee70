using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli.Commands;

/// <summary>
/// <c>distctl run -f workflow.yaml</c>: the workflow's jobs submitted in an order where each comes after those it
/// needs, each run after them (JobSpec.after: Waiting until they ended; one that does not succeed cancels those that
/// need it, unless a job says <c>afterCondition: AFTER_CONDITION_FINISHED</c>). Every job is labelled workflow=NAME,
/// workflow-run=RUN (one run of the file), workflow-job=KEY and workflow-needs=KEY,KEY, so <c>distctl status</c> and the dashboard show the
/// run as one. Ctrl-C while waiting cancels the run's jobs that have not ended.
/// </summary>
internal static class WorkflowSubmit
{
    public const string NameLabel = "workflow";
    public const string RunLabel = "workflow-run";
    public const string JobLabel = "workflow-job";
    public const string NeedsLabel = "workflow-needs";

    public static async Task<int> SubmitAsync(MasterConnection master, Workflow workflow, bool wait, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var job in workflow.Jobs)
        {
            var spec = job.Spec.Clone();
            spec.Labels[NameLabel] = workflow.Name;
            spec.Labels[RunLabel] = run;
            spec.Labels[JobLabel] = job.Key;
            if (job.Needs.Count > 0 && string.Join(",", job.Needs) is { Length: <= 256 } needs)
            {
                // What it needs, by key, for status and the dashboard (its ids are in JobSpec.after).
                spec.Labels[NeedsLabel] = needs;
            }

            // A submission repeated after a lost reply returns the same job.
            spec.IdempotencyKey = $"workflow/{run}/{job.Key}";
            spec.After.AddRange(job.Needs.Select(n => ids[n]));
            try
            {
                var submitted = await master.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec }, cancellationToken: cancellationToken).ConfigureAwait(false);
                ids[job.Key] = submitted.Job.Id;
            }
            catch (Grpc.Core.RpcException ex) when (ids.Count > 0)
            {
                // The jobs already submitted stay (and run); say which, so the rest can be dealt with.
                Console.Error.WriteLine(Formatting.Safe($"distctl: workflow {workflow.Name} run {run}: job {job.Key} was refused ({ex.Status.Detail}); submitted before it: {string.Join(", ", ids.Select(i => $"{i.Key} {i.Value}"))}"));
                throw;
            }
        }

        if (!wait)
        {
            foreach (var job in workflow.Jobs)
            {
                Console.Out.WriteLine(Formatting.Safe($"{job.Key}\t{ids[job.Key]}"));
            }

            return ExitCodes.Success;
        }

        Console.Error.WriteLine(Formatting.Safe($"distctl: workflow {workflow.Name} run {run}: {workflow.Jobs.Count} jobs (distctl list --label {RunLabel}={run})"));
        var ended = new Dictionary<string, Job>(StringComparer.Ordinal);
        Interrupts.LeftBehind = Formatting.Safe($"distctl: workflow {workflow.Name} run {run} may still be running; cancel its jobs with: distctl cancel {string.Join(" ", ids.Values)}");
        try
        {
            await WaitAsync(master, workflow, run, ids, ended, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (Interrupts.Token.IsCancellationRequested && ex is OperationCanceledException or Grpc.Core.RpcException)
        {
            // Ctrl-C stops what this run started, as run --wait does: every job of the run not yet ended is canceled.
            // Those that run after others first: canceling a job first would release its dependents (afterCondition finished).
            var running = workflow.Jobs.Where(j => !ended.ContainsKey(j.Key)).Select(j => (j.Key, Id: ids[j.Key])).Reverse().ToList();
            Console.Error.WriteLine(Formatting.Safe($"distctl: canceling workflow {workflow.Name} run {run} ({string.Join(", ", running.Select(r => r.Key))}); Ctrl-C again to stop waiting"));
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            foreach (var (key, id) in running)
            {
                try
                {
                    await master.Jobs.CancelJobAsync(new CancelJobRequest { JobId = id }, cancellationToken: grace.Token).ConfigureAwait(false);
                }
                catch (Exception cancel) when (cancel is OperationCanceledException or Grpc.Core.RpcException)
                {
                    Console.Error.WriteLine(Formatting.Safe($"distctl: {key} ({id}) may still be running; cancel it with: distctl cancel {id}"));
                }
            }

            return ExitCodes.Canceled;
        }

        var failed = workflow.Jobs.Where(j => ended[j.Key].State != TaskState.Succeeded).Select(j => j.Key).ToList();
        Console.Error.WriteLine(Formatting.Safe($"distctl: workflow {workflow.Name} run {run}: {workflow.Jobs.Count - failed.Count} of {workflow.Jobs.Count} jobs succeeded{(failed.Count > 0 ? "; not: " + string.Join(", ", failed) : "")}"));
        return failed.Count == 0 ? ExitCodes.Success : ExitCodes.Failure;
    }

    /// <summary>Until every job of the run ended, saying each end as it comes.</summary>
    private static async Task WaitAsync(MasterConnection master, Workflow workflow, string run, Dictionary<string, string> ids, Dictionary<string, Job> ended, CancellationToken cancellationToken)
    {
        while (ended.Count < workflow.Jobs.Count)
        {
            // The whole run by its label, a page of 1,000 per call, not a call per job.
            var jobs = new Dictionary<string, Job>(StringComparer.Ordinal);
            var page = "";
            do
            {
                var reply = await master.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { [RunLabel] = run }, PageSize = 1000, PageToken = page }, cancellationToken: cancellationToken).ConfigureAwait(false);
                reply.Jobs.ToList().ForEach(j => jobs[j.Id] = j);
                page = reply.NextPageToken;
            }
            while (page.Length > 0);

            foreach (var job in workflow.Jobs.Where(j => !ended.ContainsKey(j.Key)))
            {
                if (jobs.GetValueOrDefault(ids[job.Key]) is { } state && JobWatcher.IsTerminal(state.State))
                {
                    ended[job.Key] = state;
                    Console.Error.WriteLine(Formatting.Safe($"distctl: {job.Key} ({state.Id}) ") + Formatting.StateCell(state.State));
                }
            }

            if (ended.Count < workflow.Jobs.Count)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
