using System.CommandLine;
using DistributedExecutor.Contracts.V1;
using Google.Protobuf.WellKnownTypes;

namespace DistributedExecutor.Cli.Commands;

/// <summary><c>distctl run</c>: submit a command; with --wait, follow its output and exit with its exit code.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var options = JobOptions.Create();
        var wait = new Option<bool>("--wait", "-w") { Description = "Stream the output and exit with the task's exit code" };
        var idempotencyKey = new Option<string?>("--idempotency-key") { Description = "Submitting again with this key returns the same job instead of a second one" };
        var after = new Option<string[]>("--after") { Description = "Run once these jobs ended (ids or unique prefixes, comma-separated or repeated); Waiting until then", AllowMultipleArgumentsPerToken = false };
        var afterCondition = new Option<string?>("--after-condition") { Description = "succeeded (default: one that does not succeed cancels this job) or finished (run however they ended)" };
        var group = new Option<bool>("--group") { Description = "With --wait and items: print each task's output in one block after the job, instead of interleaved lines" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "With --wait: no progress line on a terminal (a batch shows one on stderr)" };
        var at = new Option<string?>("--at") { Description = "Publish the job at this time, not now (2026-12-01T02:00Z, or 02:00 today in the local zone); Scheduled until then" };
        var @in = new Option<string?>("--in") { Description = "Publish the job after this long (10m, 2h), not now" };
        var file = new Option<string?>("--file", "-f") { Description = "Submit the JobSpec in this file (YAML or JSON, every field of the API; - for stdin), or a workflow (jobs: with needs:)" };
        var argv = options.Program;

        var run = new Command("run", "Submit a command, an HTTP call or a plug-in task as a job; prints the job id, or with --wait its output")
        {
            options["--command"], options["--args"], wait, options["--timeout"], options["--pool"], options["--env"], options["--workdir"],
            options["--http"], options["--method"], options["--header"], options["--data"], options["--data-file"], options["--expect"],
            options["--response-cap"], options["--retries"], options["--executor"], options["--param"], options["--backoff"],
            options["--max-backoff"], options["--retry-on"], idempotencyKey, options["--label"], options["--items"], options["--items-file"], group,
            options["--max-parallel"], options["--max-errors"], options["--all-workers"], options["--where"], at, @in, after, afterCondition,
            options["--concurrency-key"], options["--priority"], file, quiet, argv,
        };
        run.SetAction((result, _) => CliErrors.Guard(async () =>
        {
            RejectUnknownOptions(result, run, argv);
            if (result.GetValue(file) is { } path)
            {
                // The file is the whole job: only how to wait for it may come from the command line.
                var extra = result.CommandResult.Children.OfType<System.CommandLine.Parsing.OptionResult>().Where(o => !o.Implicit)
                    .Select(o => o.Option).Where(o => o != file && o != wait && o != group && o != quiet && !o.Recursive).Select(o => o.Name).ToList();
                if (extra.Count > 0 || (result.GetValue(argv) ?? []).Length > 0)
                {
                    throw new UsageException($"-f {path} holds the whole job; {(extra.Count > 0 ? string.Join(", ", extra) : "a program")} goes into the file");
                }

                var (single, workflow) = JobFile.ReadAny(path);
                if (workflow is not null)
                {
                    using var master = GlobalOptions.Connect(result);
                    return await WorkflowSubmit.SubmitAsync(master, workflow, result.GetValue(wait), Interrupts.Token).ConfigureAwait(false);
                }

                var spec = single!;
                var itemized = spec.Tasks.Any(t => t.Item.Length > 0) ? spec.Tasks.Select(t => t.Item).ToList() : null;
                return await SubmitAndFollowAsync(result, spec, itemized).ConfigureAwait(false);
            }

            var (job, batch) = options.SpecOf(result);
            if (result.GetValue(group) && batch is null && !job.AllWorkers)
            {
                throw new UsageException("--group goes with --items, --items-file or --all-workers");
            }

            job.IdempotencyKey = result.GetValue(idempotencyKey) ?? "";
            job.NotBefore = NotBeforeOf(result.GetValue(at), result.GetValue(@in));
            job.After.AddRange((result.GetValue(after) ?? []).SelectMany(a => a.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
            job.AfterCondition = result.GetValue(afterCondition)?.ToLowerInvariant() switch
            {
                null => AfterCondition.Unspecified,
                "succeeded" => AfterCondition.Succeeded,
                "finished" => AfterCondition.Finished,
                var other => throw new UsageException($"--after-condition {other}: use succeeded or finished"),
            };

            return await SubmitAndFollowAsync(result, job, batch).ConfigureAwait(false);
        }));
        return run;

        // --at TIME / --in DURATION: when the master publishes the job (null: now).
        static Timestamp? NotBeforeOf(string? at, string? after)
        {
            if (at is not null && after is not null)
            {
                throw new UsageException("give --at or --in, not both");
            }

            if (after is not null)
            {
                try
                {
                    return Timestamp.FromDateTimeOffset(TimeArgument.FromNow(after).ToUniversalTime());
                }
                catch (FormatException ex)
                {
                    throw new UsageException($"--in {after}: {ex.Message}");
                }
            }

            if (at is null)
            {
                return null;
            }

            return TimeArgument.PointIn(at, clockAllowed: true) is { } time
                ? Timestamp.FromDateTimeOffset(time.ToUniversalTime())
                : throw new UsageException($"--at {at}: give a time such as 2026-12-01T02:00Z or 02:00 (today, local)");
        }

        // Submits the job; without --wait prints its id, with it follows the job to its end (Ctrl-C cancels the job).
        async Task<int> SubmitAndFollowAsync(ParseResult result, JobSpec spec, List<string>? itemized)
        {
            var cancellationToken = Interrupts.Token;
            using var master = GlobalOptions.Connect(result);
            var submitted = await master.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec }, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!result.GetValue(wait))
            {
                Console.Out.WriteLine(submitted.Job.Id);
                return ExitCodes.Success;
            }

            try
            {
                Interrupts.LeftBehind = $"distctl: job {submitted.Job.Id} may still be running; cancel it with: distctl cancel {submitted.Job.Id}";
                return await WaitAsync(result.GetValue(group), result.GetValue(quiet), spec.AllWorkers, master, submitted, itemized, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (Interrupts.Token.IsCancellationRequested && ex is OperationCanceledException or Grpc.Core.RpcException)
            {
                return await CancelOnInterruptAsync(master, submitted.Job.Id).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Ctrl-C during run --wait: the job this run started is canceled, as ssh and xargs stop what they started; the
    /// cancel is given a few seconds to land (a second Ctrl-C leaves at once, see <see cref="Interrupts"/>).
    /// </summary>
    private static async Task<int> CancelOnInterruptAsync(MasterConnection master, string jobId)
    {
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Console.Error.WriteLine($"distctl: canceling job {jobId}; Ctrl-C again to stop waiting for it");
        try
        {
            await master.Jobs.CancelJobAsync(new CancelJobRequest { JobId = jobId }, cancellationToken: grace.Token).ConfigureAwait(false);
            var job = (await master.Jobs.GetJobAsync(new GetJobRequest { JobId = jobId }, cancellationToken: grace.Token).ConfigureAwait(false)).Job;
            while (!JobWatcher.IsTerminal(job.State))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), grace.Token).ConfigureAwait(false);
                job = (await master.Jobs.GetJobAsync(new GetJobRequest { JobId = jobId }, cancellationToken: grace.Token).ConfigureAwait(false)).Job;
            }

            Console.Error.WriteLine($"distctl: interrupted; job {jobId} {Formatting.State(job.State)}");
        }
        catch (Exception ex) when (ex is OperationCanceledException or Grpc.Core.RpcException)
        {
            Console.Error.WriteLine($"distctl: interrupted; job {jobId} may still be running; cancel it with: distctl cancel {jobId}");
        }

        return ExitCodes.Canceled;
    }

    /// <summary>
    /// Options are options until --: a word that looks like one but is not (a typo such as --wiat) is a usage error
    /// naming the nearest real option, never the start of the program to run.
    /// </summary>
    internal static void RejectUnknownOptions(ParseResult result, Command run, Argument<string[]> argv)
    {
        var beforeDashDash = result.Tokens.TakeWhile(t => t.Type != System.CommandLine.Parsing.TokenType.DoubleDash).ToList();
        var program = result.GetResult(argv)?.Tokens ?? [];
        foreach (var token in program.Where(t => t.Value.StartsWith('-') && t.Value.Length > 1 && beforeDashDash.Any(b => ReferenceEquals(b, t))))
        {
            var names = run.Options.Concat([GlobalOptions.Master, GlobalOptions.Token, GlobalOptions.TokenFile, GlobalOptions.CaCert, GlobalOptions.Context])
                .SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal)).Distinct().ToList();
            var nearest = names.MinBy(n => Distance(token.Value, n));
            var hint = nearest is not null && Distance(token.Value, nearest) <= Math.Max(2, token.Value.Length / 3) ? $" (did you mean {nearest}?)" : "";
            throw new UsageException($"unknown option {token.Value}{hint}; options go before --, the program and its arguments after it");
        }
    }

    /// <summary>Edit distance (insertions, deletions, substitutions, adjacent swaps).</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }

    /// <summary>run --wait: the job's output as it comes, then its exit code (items prefixed, or grouped with --group).</summary>
    private static async Task<int> WaitAsync(bool grouped, bool quiet, bool allWorkers, MasterConnection master, SubmitJobResponse submitted, IReadOnlyList<string>? batch, CancellationToken cancellationToken)
    {
        {
            if (batch is not null || allWorkers)
            {
                await using var progress = Progress.Start(master.Jobs, submitted.Job.Id, quiet);
                // Items (or, fanned out, worker ids) as the master stored them.
                var prefixes = submitted.Job.Tasks.OrderBy(t => t.Index).Select(t => t.Spec.Item).ToList();
                var ended = grouped
                    ? await JobWatcher.WatchGroupedAsync(master.Jobs, submitted.Job.Id, prefixes, cancellationToken).ConfigureAwait(false)
                    : await JobWatcher.WatchAsync(master.Jobs, submitted.Job.Id, follow: true, prefixes, cancellationToken).ConfigureAwait(false);
                var failedItems = ended.Tasks.Where(t => t.State != TaskState.Succeeded).OrderBy(t => t.Index).ToList();
                Console.Error.WriteLine($"distctl: job {ended.Id} {Formatting.State(ended.State)}: {ended.Tasks.Count - failedItems.Count} of {ended.Tasks.Count} tasks succeeded"
                    + (failedItems.Count == 0 ? "" : $"; failed: {string.Join(", ", failedItems.Take(20).Select(t => $"{t.Spec.Item} ({Formatting.State(t.State)})"))}{(failedItems.Count > 20 ? " …" : "")}"));
                return failedItems.Count == 0 ? ExitCodes.Success : JobWatcher.ExitCodeOf(ended) is var c && c != ExitCodes.Success ? c : ExitCodes.Failure;
            }

            var final = await JobWatcher.WatchAsync(master.Jobs, submitted.Job.Id, follow: true, null, cancellationToken).ConfigureAwait(false);
            var code = JobWatcher.ExitCodeOf(final);
            if (final.State != TaskState.Succeeded && final.Tasks.FirstOrDefault(t => t.Error.Length > 0) is { } failed)
            {
                Console.Error.WriteLine($"distctl: job {final.Id} {Formatting.State(final.State)}: {failed.Error}");
            }

            return code;
        }
    }
}
