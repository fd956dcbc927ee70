using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Consumers;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.Master;

/// <summary>
/// The store's contract, run against each database it can live in (<see cref="SqliteJobStoreTests"/>,
/// <see cref="PostgresJobStoreTests"/>): idempotent events, and nothing lost across a reopen.
/// </summary>
public abstract class JobStoreContractTests
{
    private protected readonly Guid _jobId = Guid.NewGuid();
    private protected readonly Guid _taskId = Guid.NewGuid();

    /// <summary>The store under test; opening it again reaches the same data (a restarted master).</summary>
    private protected abstract SqlJobStore Open();

    [Fact]
    public async Task Events_DuplicatedAndReordered_RecordEachAttemptAndOutputOnce()
    {
        using var store = Open();
        CreateJob(store);
        var attempt = Guid.NewGuid();
        var started = new TaskStarted(_jobId, _taskId, attempt, "w1", 1, DateTimeOffset.UtcNow);
        var output = new TaskOutput(_jobId, _taskId, attempt, 0, [new OutputChunkData(OutputStreamKind.Stdout, "hi\n"u8.ToArray())]);
        var finished = Finished(attempt, TaskOutcome.Succeeded, 0);

        // Finished overtakes started; everything arrives twice. An output batch ahead of its attempt's TaskStarted
        // is held back (a follower reading by offset could pass it) until it waited long enough.
        await Assert.ThrowsAsync<EventPendingException>(() => store.ApplyOutputAsync(output));
        await store.ApplyOutputAsync(output, waitForAttempt: false);
        await store.ApplyFinishedAsync(finished);
        await store.ApplyStartedAsync(started);
        await store.ApplyOutputAsync(output);
        await store.ApplyFinishedAsync(finished);
        await store.ApplyStartedAsync(started);

        var job = store.GetJob(_jobId, withTasks: true)!;
        Assert.Equal(TaskState.Succeeded, job.State);
        Assert.Single(job.Tasks[0].Attempts);
        Assert.Equal(0, job.Tasks[0].ExitCode);
        var chunks = store.ReadOutput(_jobId, 0, 100);
        Assert.Equal("hi\n", string.Concat(chunks.Select(c => c.Data.ToStringUtf8())));
    }

    [Fact]
    public async Task Retry_ShortRunAfterOneThatSentTaskStarted_FailingIsRetriedAgain()
    {
        using var store = Open();
        var spec = new TaskSpec
        {
            Command = new CommandSpec { Program = "false" },
            Retry = new RetryPolicy { MaxAttempts = 3, InitialBackoff = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromMilliseconds(1)) },
        };
        store.CreateJob(_jobId, "default", [(_taskId, spec)]);
        store.MarkPublished(_jobId);

        // Run 1 took long enough to send its TaskStarted (it becomes the task's current attempt), then failed.
        var first = Guid.NewGuid();
        await store.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, first, "w1", 1, DateTimeOffset.UtcNow));
        await store.ApplyFinishedAsync(Finished(first, TaskOutcome.Failed, 1) with { Dispatch = 1 });
        Assert.Equal(TaskState.Queued, store.GetJob(_jobId, withTasks: true)!.Tasks[0].State);

        // Run 2 was short: its TaskFinished alone reports it. It is the latest run, not a stale one, though the task's
        // current attempt still named run 1: failing, it leaves the third run due (it ended the task Failed, on a
        // machine slow enough for run 1 to send its TaskStarted).
        await store.ApplyFinishedAsync(Finished(Guid.NewGuid(), TaskOutcome.Failed, 1) with { Dispatch = 2 });

        var task = store.GetJob(_jobId, withTasks: true)!.Tasks[0];
        Assert.Equal(TaskState.Queued, task.State);
        Assert.Equal(["first", "retry"], task.Attempts.Select(a => a.Cause));
        var due = await Eventually.Until(() => Task.FromResult(store.DueRetries(10)), d => d.Count > 0, TimeSpan.FromSeconds(10), "the third run to fall due");
        Assert.Equal(3, Assert.Single(due).Dispatch);
    }

    [Fact]
    public async Task Finished_BeforeItsStarted_RecordsTheAttemptAsStartedWouldAndStartedThenChangesNothing()
    {
        using var store = Open();
        CreateJob(store);
        var attempt = Guid.NewGuid();
        var startedAt = DateTimeOffset.UtcNow;
        await store.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, Guid.NewGuid(), "w1", 1, startedAt.AddSeconds(-5)));

        // The run redelivered after w1 went away (delivery 2): its TaskFinished comes first, carrying what its
        // TaskStarted says, and is recorded as a redelivery that decides the task.
        await store.ApplyFinishedAsync(Finished(attempt, TaskOutcome.Succeeded, 0, "w2") with { Dispatch = 1, DeliveryCount = 2, StartedAt = startedAt });
        var mustStop = await store.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, attempt, "w2", 2, startedAt));

        Assert.False(mustStop);
        var task = store.GetJob(_jobId, withTasks: true)!.Tasks[0];
        Assert.Equal(TaskState.Succeeded, task.State);
        Assert.Equal(2, task.Attempts.Count);
        var recorded = task.Attempts[1];
        Assert.Equal(("redelivery", "w2", TaskState.Succeeded), (recorded.Cause, recorded.WorkerId, recorded.State));
    }

    [Fact]
    public async Task Finished_WhileEarlierOutputBatchesAreMissing_WaitsForThem_OrEndsWithoutThemWhenTold()
    {
        using var store = Open();
        CreateJob(store);
        var attempt = Guid.NewGuid();
        var batch = new TaskOutput(_jobId, _taskId, attempt, 0, [new OutputChunkData(OutputStreamKind.Stdout, "one\n"u8.ToArray())]);
        var last = new TaskOutput(_jobId, _taskId, attempt, 1, [new OutputChunkData(OutputStreamKind.Stdout, "two\n"u8.ToArray())]);
        var finished = Finished(attempt, TaskOutcome.Succeeded, 0) with { Output = last, OutputBatches = 2 };
        await store.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, attempt, "w1", 1, DateTimeOffset.UtcNow));

        // Batch 0 is not stored yet: the end waits, and nothing of it (not even the carried output) is kept.
        await Assert.ThrowsAsync<EventPendingException>(() => store.ApplyFinishedAsync(finished));
        Assert.Equal(TaskState.Running, store.GetJob(_jobId, withTasks: false)!.State);
        Assert.Empty(store.ReadOutput(_jobId, 0, 100));

        // A later batch waits for the one before it, so output reads in order by offset.
        var second = new TaskOutput(_jobId, _taskId, attempt, 1, [new OutputChunkData(OutputStreamKind.Stdout, "two\n"u8.ToArray())]);
        Assert.Equal(0, (await Assert.ThrowsAsync<EventPendingException>(() => store.ApplyOutputAsync(second))).Progress);
        await store.ApplyOutputAsync(batch);

        // What of the attempt's output is in is reported, so a wait goes on while it grows.
        var third = new TaskOutput(_jobId, _taskId, attempt, 2, [new OutputChunkData(OutputStreamKind.Stdout, "three\n"u8.ToArray())]);
        Assert.Equal(1, (await Assert.ThrowsAsync<EventPendingException>(() => store.ApplyOutputAsync(third))).Progress);
        Assert.Equal(1, (await Assert.ThrowsAsync<EventPendingException>(() => store.ApplyFinishedAsync(finished with { Output = null }))).Progress);
        await store.ApplyFinishedAsync(finished);
        Assert.Equal(TaskState.Succeeded, store.GetJob(_jobId, withTasks: false)!.State);
        Assert.Equal(["one\n", "two\n"], store.ReadOutput(_jobId, 0, 100).Select(c => c.Data.ToStringUtf8()));

        // A batch that never comes does not hold an attempt's end for ever.
        var (other, otherTask, otherAttempt) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        store.CreateJob(other, "default", [(otherTask, new TaskSpec { Command = new CommandSpec { Program = "true" } })]);
        store.MarkPublished(other);
        var lonely = new TaskFinished(other, otherTask, otherAttempt, "w1", TaskOutcome.Succeeded, 0, null, null, false, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, OutputBatches: 3);
        Assert.Equal(0, (await Assert.ThrowsAsync<EventPendingException>(() => store.ApplyFinishedAsync(lonely))).Progress);
        await store.ApplyFinishedAsync(lonely, waitForOutput: false);
        Assert.Equal(TaskState.Succeeded, store.GetJob(other, withTasks: false)!.State);
    }

    [Fact]
    public async Task Events_ManyAtOnce_ShareCommitsAndEachIsAppliedWhole()
    {
        using var store = Open();
        var jobs = Enumerable.Range(0, 200).Select(_ => (Job: Guid.NewGuid(), Task: Guid.NewGuid(), Attempt: Guid.NewGuid())).ToList();
        foreach (var (job, task, _) in jobs)
        {
            store.CreateJob(job, "default", [(task, new TaskSpec { Command = new CommandSpec { Program = "true" } })]);
            store.MarkPublished(job);
        }

        // Started, output and finished of 200 tasks, all in flight together and in no particular order, each tried
        // again while what it depends on is not in yet (as the consumers do).
        var events = jobs.SelectMany(j => new Func<Task>[]
        {
            () => store.ApplyStartedAsync(new TaskStarted(j.Job, j.Task, j.Attempt, "w1", 1, DateTimeOffset.UtcNow)),
            () => PendingEvents.ApplyAsync(async wait =>
            {
                await store.ApplyOutputAsync(new TaskOutput(j.Job, j.Task, j.Attempt, 0, [new OutputChunkData(OutputStreamKind.Stdout, "x\n"u8.ToArray())]), wait);
                return 0;
            }, TimeProvider.System, CancellationToken.None),
            () => PendingEvents.ApplyAsync(wait => store.ApplyFinishedAsync(
                new TaskFinished(j.Job, j.Task, j.Attempt, "w1", TaskOutcome.Succeeded, 0, null, null, false, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, OutputBatches: 1), wait),
                TimeProvider.System, CancellationToken.None),
        }).OrderBy(_ => Random.Shared.Next()).ToList();
        await Task.WhenAll(events.Select(e => Task.Run(e)));

        Assert.Equal(0, store.ActiveJobs);
        Assert.All(jobs, j =>
        {
            var task = store.GetJob(j.Job, withTasks: true)!.Tasks[0];
            Assert.Equal(TaskState.Succeeded, task.State);
            Assert.Equal("first", Assert.Single(task.Attempts).Cause);
            Assert.Equal("x\n", Assert.Single(store.ReadOutput(j.Job, 0, 10)).Data.ToStringUtf8());
        });
    }

    [Fact]
    public async Task Finished_CarryingTheLastOutput_StoresItOnceAfterTheEarlierBatches()
    {
        using var store = Open();
        CreateJob(store);
        var attempt = Guid.NewGuid();
        var first = new TaskOutput(_jobId, _taskId, attempt, 0, [new OutputChunkData(OutputStreamKind.Stdout, "one\n"u8.ToArray())]);
        var last = new TaskOutput(_jobId, _taskId, attempt, 1, [new OutputChunkData(OutputStreamKind.Stdout, "two\n"u8.ToArray()), new OutputChunkData(OutputStreamKind.Stderr, "err\n"u8.ToArray())]);
        var finished = Finished(attempt, TaskOutcome.Succeeded, 0) with { Output = last };

        await store.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, attempt, "w1", 1, DateTimeOffset.UtcNow));
        await store.ApplyOutputAsync(first);
        await store.ApplyFinishedAsync(finished);
        await store.ApplyFinishedAsync(finished);

        Assert.Equal(TaskState.Succeeded, store.GetJob(_jobId, withTasks: false)!.State);
        Assert.Equal(["one\n", "two\n", "err\n"], store.ReadOutput(_jobId, 0, 100).Select(c => c.Data.ToStringUtf8()));
    }

    [Fact]
    public async Task Finished_LateFailureAfterSuccess_DoesNotReopenTask()
    {
        using var store = Open();
        CreateJob(store);
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        await store.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, first, "w1", 1, DateTimeOffset.UtcNow));
        await store.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, second, "w2", 2, DateTimeOffset.UtcNow));
        await store.ApplyFinishedAsync(Finished(second, TaskOutcome.Succeeded, 0, "w2"));

        var mustStop = await store.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, Guid.NewGuid(), "w3", 3, DateTimeOffset.UtcNow));
        await store.ApplyFinishedAsync(Finished(first, TaskOutcome.Failed, 1, "w1"));

        var task = store.GetJob(_jobId, withTasks: true)!.Tasks[0];
        Assert.True(mustStop);
        Assert.Equal(TaskState.Succeeded, task.State);
        Assert.Equal(0, task.ExitCode);
        Assert.Equal("w2", task.WorkerId);
    }

    [Fact]
    public async Task Output_OnlyTheDecidingAttemptIsInTheRecord()
    {
        using var store = Open();
        CreateJob(store);
        var lost = Guid.NewGuid();
        var final = Guid.NewGuid();
        await store.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, lost, "w1", 1, DateTimeOffset.UtcNow));
        await store.ApplyOutputAsync(new TaskOutput(_jobId, _taskId, lost, 0, [new OutputChunkData(OutputStreamKind.Stdout, "partial"u8.ToArray())]));
        store.MarkWorkerLost("w1", "lost");
        await store.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, final, "w2", 2, DateTimeOffset.UtcNow));
        await store.ApplyOutputAsync(new TaskOutput(_jobId, _taskId, final, 0, [new OutputChunkData(OutputStreamKind.Stdout, "whole\n"u8.ToArray())]));
        await store.ApplyFinishedAsync(Finished(final, TaskOutcome.Succeeded, 0));

        var job = store.GetJob(_jobId, withTasks: true)!;
        Assert.Equal(TaskState.Succeeded, job.State);
        Assert.Equal([TaskState.Lost, TaskState.Succeeded], job.Tasks[0].Attempts.Select(a => a.State));
        Assert.Equal("whole\n", string.Concat(store.ReadOutput(_jobId, 0, 100).Select(c => c.Data.ToStringUtf8())));
    }

    [Fact]
    public async Task Finished_AfterTheWorkerWasMarkedLost_StillEndsTheTask()
    {
        using var store = Open();
        CreateJob(store);
        var attempt = Guid.NewGuid();
        await store.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, attempt, "w1", 1, DateTimeOffset.UtcNow));
        store.MarkWorkerLost("w1", "no heartbeat");
        Assert.Equal(TaskState.Queued, store.GetJob(_jobId, withTasks: true)!.Tasks[0].State);

        await store.ApplyFinishedAsync(Finished(attempt, TaskOutcome.Succeeded, 0, "w1"));

        var task = store.GetJob(_jobId, withTasks: true)!.Tasks[0];
        Assert.Equal(TaskState.Succeeded, task.State);
        Assert.Equal(TaskState.Succeeded, Assert.Single(task.Attempts).State);
    }

    [Fact]
    public async Task Reopen_AfterWrites_EverythingStillThere()
    {
        var attempt = Guid.NewGuid();
        using (var store = Open())
        {
            CreateJob(store);
            await store.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, attempt, "w1", 1, DateTimeOffset.UtcNow));
            await store.ApplyOutputAsync(new TaskOutput(_jobId, _taskId, attempt, 0, [new OutputChunkData(OutputStreamKind.Stderr, "oops\n"u8.ToArray())]));
        }

        using var reopened = Open();
        var job = reopened.GetJob(_jobId, withTasks: true)!;
        Assert.Equal(TaskState.Running, job.State);
        Assert.Equal(1, reopened.ActiveJobs);
        var chunk = Assert.Single(reopened.ReadOutput(_jobId, 0, 10));
        Assert.Equal(OutputStream.Stderr, chunk.Stream);
        Assert.Equal("ok", reopened.IntegrityCheck());
    }

    [Fact]
    public async Task Cancel_QueuedJob_CancelsTasksAndFreesAdmission()
    {
        using var store = Open();
        CreateJob(store);
        Assert.Equal(1, store.ActiveJobs);

        var job = store.CancelJob(_jobId)!.Job;

        Assert.Equal(TaskState.Canceled, job.State);
        Assert.Equal(0, store.ActiveJobs);
        Assert.True(await store.ApplyStartedAsync(new TaskStarted(_jobId, _taskId, Guid.NewGuid(), "w1", 1, DateTimeOffset.UtcNow)));
        Assert.Null(store.CancelJob(Guid.NewGuid()));
    }

    [Fact]
    public void Job_BeforeTheBrokerConfirmed_IsNotVisible()
    {
        using var store = Open();
        store.CreateJob(_jobId, "default", [(_taskId, new TaskSpec { Command = new CommandSpec { Program = "true" } })]);

        Assert.Null(store.GetJob(_jobId, withTasks: false));
        Assert.Empty(store.ListJobs(TaskState.Unspecified, null, 10, null).Jobs);
        Assert.Null(store.CancelJob(_jobId));

        store.MarkPublished(_jobId);
        Assert.Equal(TaskState.Queued, store.GetJob(_jobId, withTasks: false)!.State);
    }

    [Fact]
    public void ListJobs_Pages_NewestFirstWithoutGapsOrRepeats()
    {
        using var store = Open();
        var ids = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            var id = Guid.NewGuid();
            store.CreateJob(id, "default", [(Guid.NewGuid(), new TaskSpec { Command = new CommandSpec { Program = "true" } })]);
            store.MarkPublished(id);
            ids.Add(id.ToString());
        }

        var seen = new List<string>();
        long? before = null;
        do
        {
            var (jobs, next) = store.ListJobs(TaskState.Unspecified, null, 3, before);
            seen.AddRange(jobs.Select(j => j.Id));
            before = next.Length == 0 ? null : long.Parse(next, System.Globalization.CultureInfo.InvariantCulture);
        }
        while (before is not null);

        ids.Reverse();
        Assert.Equal(ids, seen);
    }

    [Fact]
    public async Task Group_OneWriteFails_OnlyItIsUndone_TheOthersCommitWithItsWinner()
    {
        using var store = Open();
        var spec = new TaskSpec { Command = new CommandSpec { Program = "true" } };

        // Many submissions at once share group commits; two of them carry one idempotency key, so one of them fails
        // inside its group. The others must all be stored, and the key's winner be the job it answers with.
        var keyed = Enumerable.Range(0, 2).Select(_ => Guid.NewGuid()).ToList();
        var plain = Enumerable.Range(0, 40).Select(_ => Guid.NewGuid()).ToList();
        var submissions = plain.Select(id => Outcome(store.CreateJobAsync(id, "default", [(Guid.NewGuid(), spec)])))
            .Concat(keyed.Select(id => Outcome(store.CreateJobAsync(id, "default", [(Guid.NewGuid(), spec)], idempotencyKey: "once"))))
            .ToList();
        var outcomes = await Task.WhenAll(submissions);

        Assert.Equal(plain.Count + 1, outcomes.Count(o => o == "stored"));
        Assert.Equal(1, outcomes.Count(o => o == "duplicate"));
        foreach (var id in plain)
        {
            await store.MarkPublishedAsync(id);
            Assert.NotNull(store.GetJob(id, withTasks: false));
        }

        var winner = keyed[outcomes.Skip(plain.Count).ToList().IndexOf("stored")];
        await store.MarkPublishedAsync(winner);
        Assert.Equal((winner, true), store.FindByIdempotencyKey("once"));
    }

    [Fact]
    public async Task DueRetries_AfterTheStoreSaidNothingIsDueForAnHour_AnEarlierOneScheduledSinceIsStillFound()
    {
        using var store = Open();
        var later = Guid.NewGuid();
        var sooner = Guid.NewGuid();
        var spec = new TaskSpec { Command = new CommandSpec { Program = "true" } };
        await store.CreateJobAsync(Guid.NewGuid(), "default", [(later, spec)], notBefore: DateTimeOffset.UtcNow.AddHours(1));

        // Read: nothing due for an hour. The scheduler's next ticks need not read the store again until then ...
        Assert.Empty(store.DueRetries(10));
        Assert.Empty(store.DueRetries(10));

        // ... unless a retry falls due sooner: this one is due already.
        await store.CreateJobAsync(Guid.NewGuid(), "default", [(sooner, spec)], notBefore: DateTimeOffset.UtcNow.AddSeconds(-1));
        var due = store.DueRetries(10);

        Assert.Equal([sooner], due.Select(r => r.TaskId));
        store.MarkRetryPublished(sooner, due[0].Dispatch);
        Assert.Empty(store.DueRetries(10));
    }

    /// <summary>What became of a submission: "stored", "refused" (admission) or "duplicate" (its idempotency key was taken).</summary>
    private protected static async Task<string> Outcome(Task<Job?> submit)
    {
        try
        {
            return await submit is null ? "refused" : "stored";
        }
        catch (DuplicateIdempotencyKeyException)
        {
            return "duplicate";
        }
    }

    private protected void CreateJob(SqlJobStore store)
    {
        store.CreateJob(_jobId, "default", [(_taskId, new TaskSpec { Command = new CommandSpec { Program = "echo", Args = { "hi" } } })]);
        store.MarkPublished(_jobId);
    }

    [Fact]
    public async Task GetJob_APageOfTasks_ByIndexAndState_WithOnlyTheirAttempts()
    {
        using var store = Open();
        var tasks = Enumerable.Range(0, 6).Select(_ => (Id: Guid.NewGuid(), Attempt: Guid.NewGuid())).ToList();
        store.CreateJob(_jobId, "default", [.. tasks.Select(t => (t.Id, new TaskSpec { Command = new CommandSpec { Program = "true" } }))]);
        store.MarkPublished(_jobId);
        foreach (var (task, i) in tasks.Select((t, i) => (t, i)))
        {
            // Odd tasks fail, even ones succeed.
            await store.ApplyFinishedAsync(new TaskFinished(_jobId, task.Id, task.Attempt, "w", i % 2 == 0 ? TaskOutcome.Succeeded : TaskOutcome.Failed, i % 2, null, null, false, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow));
        }

        var page = store.GetJob(_jobId, withTasks: true, new TaskPage(2, 3, null))!;
        Assert.Equal([2, 3, 4], page.Tasks.Select(t => t.Index));
        Assert.Equal(tasks.Skip(2).Take(3).Select(t => t.Id.ToString()), page.Tasks.Select(t => t.Id));
        Assert.Equal([TaskState.Succeeded, TaskState.Failed, TaskState.Succeeded], page.Tasks.Select(t => Assert.Single(t.Attempts).State));
        Assert.Equal([1, 1, 1], page.Tasks.Select(t => t.Attempts.Count));

        var failed = store.GetJob(_jobId, withTasks: true, new TaskPage(1, 0, TaskState.Failed))!;
        Assert.Equal([3, 5], failed.Tasks.Select(t => t.Index));
        Assert.All(failed.Tasks, t => Assert.Equal(TaskState.Failed, Assert.Single(t.Attempts).State));
        Assert.Equal(6, failed.TaskCount);
    }

    private protected TaskFinished Finished(Guid attempt, TaskOutcome outcome, int? exitCode, string worker = "w") =>
        new(_jobId, _taskId, attempt, worker, outcome, exitCode, null, null, false, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
}
