using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Executors;
using DistributedExecutor.Hosting.Bus;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Master.Workers;
using MassTransit;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// Admission and submission: validate, admit within MAX_CONCURRENT_JOBS, persist, publish with confirms (a big job's
/// first <see cref="TaskOutbox.FirstWindow"/> tasks; the outbox publishes the rest behind the answer), and only then
/// report the job Queued. When the broker refuses, the job is removed again: nothing is left
/// half-created, and the caller hears UNAVAILABLE within PUBLISH_TIMEOUT_SECONDS.
/// </summary>
internal sealed partial class JobSubmitter(
    SubmissionValidator validator,
    IJobStore store,
    TaskDispatcher dispatcher,
    MasterOptions options,
    WorkerRegistry registry,
    DistexecMetrics metrics,
    TimeProvider time,
    ILogger<JobSubmitter> logger,
    BrokerLink? broker = null,
    TaskOutbox? outbox = null)
{
    /// <summary>How long a submission waits for a broker that is (re)connecting before it is refused (within PUBLISH_TIMEOUT_SECONDS).</summary>
    private TimeSpan BrokerGrace => TimeSpan.FromSeconds(Math.Min(3, options.PublishTimeoutSeconds));

    /// <summary>Admits and publishes the job; <paramref name="submittedBy"/> is the caller's token name, recorded with it.</summary>
    public async Task<SubmitResult> SubmitAsync(JobSpec? spec, CancellationToken cancellationToken, string submittedBy = "")
    {
        using var span = Tracing.Source.StartActivity("admit job");
        var verdict = validator.Validate(spec);
        if (verdict.Denied is { } denied)
        {
            return SubmitResult.Refuse(Refusal.Denied, denied);
        }

        if (verdict.Precondition is { } precondition && verdict.Problems.Count == 0)
        {
            return SubmitResult.Refuse(Refusal.FailedPrecondition, precondition);
        }

        if (verdict.Problems.Count > 0)
        {
            return new SubmitResult.Invalid(verdict.Problems);
        }

        var notBefore = spec!.NotBefore?.ToDateTimeOffset();
        if (notBefore is { } due && (due > time.GetUtcNow() + TimeSpan.FromDays(366) || spec.AllWorkers))
        {
            return new SubmitResult.Invalid([spec.AllWorkers
                ? "not_before does not go with all_workers: which workers are alive then is not known now"
                : $"not_before {due:u} is more than a year ahead"]);
        }

        // The jobs it runs after, by full id or unique prefix (only existing jobs can be named: no cycle can form).
        var after = new List<Guid>();
        foreach (var name in spec.After)
        {
            var text = name.Trim().ToLowerInvariant();
            var matches = Guid.TryParse(text, out var exact) ? [exact] : text.Length >= 4 ? store.JobIdsStartingWith(text, 2) : [];
            if (matches.Count != 1)
            {
                return SubmitResult.Refuse(Refusal.FailedPrecondition, $"after: {(matches.Count == 0 ? "no job" : "more than one job")} {(Guid.TryParse(text, out _) ? "is" : "starts with")} {SpecText.Printable(name)}");
            }

            after.Add(matches[0]);
        }

        if (after.Count > 0 && notBefore is not null)
        {
            return new SubmitResult.Invalid(["after and not_before do not go together: a job runs after others, or at a time"]);
        }

        var pool = spec.Pool.Length == 0 ? "default" : spec.Pool;
        if (Targets(spec, pool) is { } unreachable)
        {
            return SubmitResult.Refuse(Refusal.FailedPrecondition, unreachable);
        }

        if (spec.AllWorkers)
        {
            spec = FanOut(spec, pool);
        }

        // Each task carries the job's priority: every path that publishes it (release, retry, recovery) picks its queue by it.
        foreach (var task in spec.Tasks)
        {
            task.Priority = spec.Priority;
        }

        if (broker is not null && !await broker.WaitUsableAsync(BrokerGrace, cancellationToken).ConfigureAwait(false))
        {
            return SubmitResult.Refuse(Refusal.Unavailable, $"job not accepted: {broker.Reason}; nothing was queued, submit again");
        }

        var key = spec.IdempotencyKey.Length == 0 ? null : spec.IdempotencyKey;
        if (key is not null && await ExistingAsync(key, cancellationToken).ConfigureAwait(false) is { } existing)
        {
            return new SubmitResult.Accepted(existing);
        }

        // Random (v4): ids whose leading characters differ from job to job, so a short prefix names one.
        var jobId = Guid.NewGuid();
        var tasks = spec.Tasks.Select(t => (NewId.NextGuid(), t)).ToList();

        Job? job;
        try
        {
            // The count and the insert in one write: concurrent submissions never overshoot the limit.
            using var write = Tracing.Source.StartActivity("store job");
            job = await store.CreateJobAsync(jobId, pool, tasks, key, spec.Labels, spec.MaxParallel, spec.MaxErrors, options.MaxConcurrentJobs, submittedBy, notBefore,
                spec.ConcurrencyKey.Length > 0 ? spec.ConcurrencyKey : null, after, spec.AfterCondition).ConfigureAwait(false);
        }
        catch (DependencyException dependency)
        {
            return SubmitResult.Refuse(Refusal.FailedPrecondition, dependency.Message);
        }
        catch (StoreFullException full)
        {
            return SubmitResult.Refuse(Refusal.Exhausted, $"job not accepted: {full.Message}; nothing was queued, submit again once space is freed");
        }
        catch (DuplicateIdempotencyKeyException)
        {
            // An identical submission won the race: answer with its job once the broker has confirmed it.
            return await ExistingAsync(key!, cancellationToken).ConfigureAwait(false) is { } winner
                ? new SubmitResult.Accepted(winner)
                : SubmitResult.Refuse(Refusal.Unavailable, "a submission with the same idempotency key was not accepted; submit again");
        }

        if (job is null)
        {
            return SubmitResult.Refuse(Refusal.Exhausted, $"{store.ActiveJobs} jobs are queued or running, the most MAX_CONCURRENT_JOBS allows ({options.MaxConcurrentJobs}); try again when some have finished");
        }

        // With max_parallel or a concurrency key only the first tasks go out now; the rest are released as tasks end.
        // A job for later: its tasks wait in the store's schedule; only its acceptance is marked now.
        // The store decided which go now (the first ones): within --max-parallel and the concurrency key's room.
        var first = notBefore is not null ? 0 : tasks.Count - job.Counts.Waiting;
        var messages = tasks.Take(first).Select(t => dispatcher.Message(jobId, t.Item1, t.t)).ToList();

        // A big job answers once its first window is confirmed (the broker takes this job's tasks); the rest are
        // stored, unmarked, and published behind the answer by the outbox (or at start-up, should this master die).
        var later = outbox is not null && messages.Count > TaskOutbox.FirstWindow ? messages[TaskOutbox.FirstWindow..] : [];
        if (later.Count > 0)
        {
            messages = messages[..TaskOutbox.FirstWindow];
        }

        using var publishTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(options.PublishTimeoutSeconds), time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, publishTimeout.Token);
        try
        {
            using var publish = Tracing.Source.StartActivity("publish tasks");
            publish?.SetTag("distexec.task_count", messages.Count);
            await dispatcher.DispatchNewAsync(pool, messages, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Some tasks may have reached the queue: workers drop tasks the store does not know.
            store.DeleteUnpublishedJob(jobId);
            LogPublishFailed(ex, jobId);
            var reason = timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested
                ? $"the broker did not confirm the tasks within {options.PublishTimeoutSeconds}s (PUBLISH_TIMEOUT_SECONDS)"
                : $"the broker refused the tasks: {ex.GetBaseException().Message}";
            return SubmitResult.Refuse(Refusal.Unavailable, $"job not accepted: {reason}; nothing was queued, submit again");
        }

        try
        {
            await store.MarkPublishedAsync(jobId, later.Count > 0 ? [.. messages.Select(m => m.TaskId)] : null).ConfigureAwait(false);
        }
        catch (StoreFullException)
        {
            // The tasks are in the broker and the job in the store: it runs. Unmarked, its tasks count as never
            // published, which start-up recovery treats as a master that died between the two (published again, run
            // once). The store has logged that it is full.
        }

        if (later.Count > 0)
        {
            outbox!.Enqueue(pool, jobId, later);
        }

        metrics.JobsSubmitted.Add(1, new KeyValuePair<string, object?>("pool", pool));
        span?.SetTag("distexec.job_id", job.Id);
        LogAccepted(jobId, tasks.Count, pool);
        return new SubmitResult.Accepted(job);
    }

    /// <summary>Why a task addressed to one worker (fan-out) cannot be delivered, or null when all can.</summary>
    private string? Targets(JobSpec spec, string pool)
    {
        if (!spec.AllWorkers && spec.Tasks.All(t => t.Worker.Length == 0))
        {
            // The usual job: any worker of the pool; no need to look at the registry.
            return null;
        }

        var alive = registry.List(pool).Where(w => w.State == WorkerState.Alive).Select(w => w.WorkerId).ToHashSet(StringComparer.Ordinal);
        if (spec.AllWorkers)
        {
            if (spec.Tasks.Count != 1 || spec.Tasks[0].Worker.Length > 0)
            {
                return "all_workers takes exactly one task, without a worker of its own";
            }

            if (alive.Count > 0 && spec.Where.Count > 0 && Matching(spec, pool).Count == 0)
            {
                return $"no live worker in pool \"{pool}\" has the labels {string.Join(", ", spec.Where)} (distctl workers --where shows who has)";
            }

            return alive.Count == 0 ? $"no live worker in pool \"{pool}\" to fan out to" : null;
        }

        return spec.Tasks.FirstOrDefault(t => t.Worker.Length > 0 && !alive.Contains(t.Worker)) is { } task
            ? $"worker \"{SpecText.Printable(task.Worker)}\" is not a live worker of pool \"{pool}\""
            : null;
    }

    /// <summary>The live workers of the pool whose labels match the job's where (all of them without one).</summary>
    private List<WorkerInfo> Matching(JobSpec spec, string pool) =>
        [.. registry.List(pool, where: spec.Where.Count > 0 ? JobRules.ParseWhere(spec.Where, []) : null).Where(w => w.State == WorkerState.Alive)];

    /// <summary>One copy of the task per live worker of the pool (those matching its where), each addressed to its worker (item = worker id).</summary>
    private JobSpec FanOut(JobSpec spec, string pool)
    {
        var fanned = spec.Clone();
        fanned.AllWorkers = false;
        fanned.Tasks.Clear();
        foreach (var worker in Matching(spec, pool))
        {
            var task = spec.Tasks[0].Clone();
            task.Worker = worker.WorkerId;
            task.Item = worker.WorkerId;
            fanned.Tasks.Add(task);
        }

        return fanned;
    }

    /// <summary>
    /// The job already made for <paramref name="key"/>: once the broker confirmed it, at once; while its
    /// submission is still publishing, after waiting for that; null when there is none (or it was refused).
    /// </summary>
    private async Task<Job?> ExistingAsync(string key, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(options.PublishTimeoutSeconds + 5);
        while (store.FindByIdempotencyKey(key) is { } found)
        {
            if (found.Accepted)
            {
                return store.GetJob(found.JobId, withTasks: true);
            }

            if (time.GetUtcNow() > deadline)
            {
                return null;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), time, cancellationToken).ConfigureAwait(false);
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Accepted job {JobId} with {TaskCount} task(s) for pool {Pool}")]
    private partial void LogAccepted(Guid jobId, int taskCount, string pool);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing job {JobId} failed; it was removed")]
    private partial void LogPublishFailed(Exception exception, Guid jobId);
}
