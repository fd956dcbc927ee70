using System.CommandLine;
using DistributedExecutor.Contracts.V1;
using Google.Protobuf.WellKnownTypes;

namespace DistributedExecutor.Cli.Commands;

/// <summary><c>distctl run</c>: submit a command; with --wait, follow its output and exit with its exit code.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var command = new Option<string?>("--command", "-c") { Description = "Program to run (or give it after --)" };
        var arguments = new Option<string?>("--args", "-a") { Description = "Arguments as one string, split like a shell splits words (quotes respected, nothing expanded)" };
        var wait = new Option<bool>("--wait", "-w") { Description = "Stream the output and exit with the task's exit code" };
        var timeout = new Option<string?>("--timeout", "-t") { Description = "Kill the task after this long (30s, 5m, 1h30m)" };
        var pool = new Option<string?>("--pool", "-p") { Description = "Worker pool (default: default)" };
        var env = new Option<string[]>("--env", "-e") { Description = "Environment variable KEY=VALUE for the task (repeatable)", AllowMultipleArgumentsPerToken = false };
        var workdir = new Option<string?>("--workdir") { Description = "Working directory on the worker (absolute)" };
        var http = new Option<string?>("--http") { Description = "Make an HTTP call to this URL instead of running a program" };
        var method = new Option<string?>("--method", "-X") { Description = "HTTP method (default GET)" };
        var header = new Option<string[]>("--header", "-H") { Description = "HTTP header \"Name: value\" (repeatable)", AllowMultipleArgumentsPerToken = false };
        var data = new Option<string?>("--data", "-d") { Description = "HTTP request body" };
        var dataFile = new Option<FileInfo?>("--data-file") { Description = "HTTP request body from a file" };
        var expect = new Option<string?>("--expect") { Description = "HTTP statuses that mean success, e.g. 200-299,304 (default 200-299)" };
        var responseCap = new Option<long?>("--response-cap") { Description = "HTTP response body bytes kept (default 1 MiB)" };
        var retries = new Option<int?>("--retries") { Description = "Run a failed task again up to N more times (exponential backoff with jitter); HTTP tasks also retry 429/503 within a run, honouring Retry-After" };
        var backoff = new Option<string?>("--backoff") { Description = "Delay before the first retry (default 1s); each later one doubles, up to --max-backoff" };
        var maxBackoff = new Option<string?>("--max-backoff") { Description = "Longest delay between retries (default 5m)" };
        var retryOn = new Option<string?>("--retry-on") { Description = "Outcomes that retry: failed, timeout, http5xx (comma-separated; default failed,timeout)" };
        var idempotencyKey = new Option<string?>("--idempotency-key") { Description = "Submitting again with this key returns the same job instead of a second one" };
        var label = new Option<string[]>("--label", "-l") { Description = "Label KEY=VALUE on the job (repeatable; filter with distctl list --label)", AllowMultipleArgumentsPerToken = false };
        var items = new Option<string[]>("--items") { Description = "One task per item, {} in the command replaced by it (else appended)", AllowMultipleArgumentsPerToken = true };
        var itemsFile = new Option<FileInfo?>("--items-file") { Description = "One task per line of this file (- for stdin), as --items" };
        var allWorkers = new Option<bool>("--all-workers") { Description = "Run the command once on every worker of the pool alive now; output per worker" };
        var where = new Option<string[]>("--where") { Description = "With --all-workers: only workers with this label KEY=VALUE (WORKER_LABELS; repeatable: all must match)", AllowMultipleArgumentsPerToken = false };
        var maxParallel = new Option<int?>("--max-parallel") { Description = "Never more than N of this job's tasks queued or running at once, across all workers" };
        var after = new Option<string[]>("--after") { Description = "Run once these jobs ended (ids or unique prefixes, comma-separated or repeated); Waiting until then", AllowMultipleArgumentsPerToken = false };
        var afterCondition = new Option<string?>("--after-condition") { Description = "succeeded (default: one that does not succeed cancels this job) or finished (run however they ended)" };
        var concurrencyKey = new Option<string?>("--concurrency-key") { Description = "The job's tasks hold this key: across all jobs at most its limit (distctl limits set) run at once" };
        var maxErrors = new Option<int?>("--max-errors") { Description = "After N failed tasks, the tasks not yet started are canceled" };
        var group = new Option<bool>("--group") { Description = "With --wait and items: print each task's output in one block after the job, instead of interleaved lines" };
        var executor = new Option<string?>("--executor") { Description = "Run through this plug-in executor" };
        var param = new Option<string[]>("--param") { Description = "Plug-in parameter KEY=VALUE (repeatable)", AllowMultipleArgumentsPerToken = false };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "With --wait: no progress line on a terminal (a batch shows one on stderr)" };
        var at = new Option<string?>("--at") { Description = "Publish the job at this time, not now (2026-12-01T02:00Z, or 02:00 today in the local zone); Scheduled until then" };
        var @in = new Option<string?>("--in") { Description = "Publish the job after this long (10m, 2h), not now" };
        var file = new Option<string?>("--file", "-f") { Description = "Submit the JobSpec in this file (YAML or JSON, every field of the API; - for stdin)" };
        var argv = new Argument<string[]>("program-and-args")
        {
            Description = "After --: the program and its arguments, passed exactly",
            Arity = ArgumentArity.ZeroOrMore,
        };

        var run = new Command("run", "Submit a command, an HTTP call or a plug-in task as a job; prints the job id, or with --wait its output")
        {
            command, arguments, wait, timeout, pool, env, workdir, http, method, header, data, dataFile, expect, responseCap, retries, executor, param,
            backoff, maxBackoff, retryOn, idempotencyKey, label, items, itemsFile, group, maxParallel, maxErrors, allWorkers, where, at, @in, after, afterCondition, concurrencyKey, file, quiet, argv,
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

                var spec = JobFile.Read(path);
                var itemized = spec.Tasks.Any(t => t.Item.Length > 0) ? spec.Tasks.Select(t => t.Item).ToList() : null;
                return await SubmitAndFollowAsync(result, spec, itemized).ConfigureAwait(false);
            }

            var task = result.GetValue(http) is not null ? new TaskSpec { Http = HttpSpecOf(result) }
                : result.GetValue(executor) is not null ? new TaskSpec { Plugin = PluginSpecOf(result) }
                : new TaskSpec { Command = CommandSpecOf(result) };
            if (result.GetValue(timeout) is { } t)
            {
                task.Timeout = Duration.FromTimeSpan(DurationParser.Parse(t));
            }

            task.Retry = RetryOf(result);
            var job = new JobSpec
            {
                Pool = result.GetValue(pool) ?? "",
                IdempotencyKey = result.GetValue(idempotencyKey) ?? "",
                MaxParallel = result.GetValue(maxParallel) is { } p ? (p > 0 ? p : throw new UsageException($"--max-parallel {p} must be at least 1")) : 0,
                MaxErrors = result.GetValue(maxErrors) is { } e ? (e > 0 ? e : throw new UsageException($"--max-errors {e} must be at least 1")) : 0,
                AllWorkers = result.GetValue(allWorkers),
            };
            job.Where.AddRange(result.GetValue(where) ?? []);
            job.NotBefore = NotBeforeOf(result.GetValue(at), result.GetValue(@in));
            job.ConcurrencyKey = result.GetValue(concurrencyKey) ?? "";
            job.After.AddRange((result.GetValue(after) ?? []).SelectMany(a => a.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
            job.AfterCondition = result.GetValue(afterCondition)?.ToLowerInvariant() switch
            {
                null => AfterCondition.Unspecified,
                "succeeded" => AfterCondition.Succeeded,
                "finished" => AfterCondition.Finished,
                var other => throw new UsageException($"--after-condition {other}: use succeeded or finished"),
            };
            if (job.Where.Count > 0 && !job.AllWorkers)
            {
                throw new UsageException("--where picks the workers of --all-workers; add --all-workers");
            }
            foreach (var (key, value) in Pairs(result.GetValue(label), "--label"))
            {
                job.Labels[key] = value;
            }

            var batch = ItemsOf(result);
            if (batch is not null && job.AllWorkers)
            {
                throw new UsageException("--all-workers runs one command on every worker; it does not go with --items");
            }

            if (batch is null)
            {
                job.Tasks.Add(task);
            }
            else
            {
                job.Tasks.AddRange(batch.Select(item => BatchItems.Expand(task, item)));
            }

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

        RetryPolicy? RetryOf(ParseResult result)
        {
            var n = result.GetValue(retries);
            if (n is null or 0)
            {
                if (result.GetValue(backoff) is not null || result.GetValue(maxBackoff) is not null || result.GetValue(retryOn) is not null)
                {
                    throw new UsageException("--backoff, --max-backoff and --retry-on go with --retries N");
                }

                return null;
            }

            if (n is < 0 or > 99)
            {
                throw new UsageException($"--retries {n} must be between 0 and 99");
            }

            var policy = new RetryPolicy { MaxAttempts = n.Value + 1 };
            if (result.GetValue(backoff) is { } b)
            {
                policy.InitialBackoff = Duration.FromTimeSpan(DurationParser.Parse(b));
            }

            if (result.GetValue(maxBackoff) is { } m)
            {
                policy.MaxBackoff = Duration.FromTimeSpan(DurationParser.Parse(m));
            }

            foreach (var name in (result.GetValue(retryOn) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                policy.RetryOn.Add(name.ToLowerInvariant() switch
                {
                    "failed" => RetryOn.Failed,
                    "timeout" or "timedout" => RetryOn.TimedOut,
                    "http5xx" => RetryOn.Http5Xx,
                    _ => throw new UsageException($"--retry-on {name}: use failed, timeout or http5xx"),
                });
            }

            return policy;
        }

        List<string>? ItemsOf(ParseResult result)
        {
            var given = result.GetValue(items);
            var file = result.GetValue(itemsFile);
            if (given is { Length: > 0 } && file is not null)
            {
                throw new UsageException("give the items with --items or --items-file, not both");
            }

            if (file is not null)
            {
                if (file.Name != "-" && !file.Exists)
                {
                    throw new UsageException($"--items-file {file.FullName} does not exist");
                }

                var lines = (file.Name == "-" ? Console.In.ReadToEnd() : File.ReadAllText(file.FullName))
                    .Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
                return lines.Count > 0 ? lines : throw new UsageException($"--items-file {file.Name} holds no items");
            }

            if (given is { Length: > 0 })
            {
                return [.. given];
            }

            return result.GetValue(group) && !result.GetValue(allWorkers) ? throw new UsageException("--group goes with --items, --items-file or --all-workers") : null;
        }

        CommandSpec CommandSpecOf(ParseResult result)
        {
            var spec = new CommandSpec();
            var given = result.GetValue(argv) ?? [];
            var program = result.GetValue(command);
            var args = result.GetValue(arguments);
            if (program is not null && given.Length > 0)
            {
                throw new UsageException("give the program either with --command or after --, not both");
            }

            if (program is null && given.Length == 0)
            {
                throw new UsageException("nothing to run: use --command PROGRAM [--args \"...\"], -- PROGRAM ARG..., --http URL or --executor NAME");
            }

            if (program is null && args is not null)
            {
                throw new UsageException("--args goes with --command; after -- give the arguments directly");
            }

            spec.Program = program ?? given[0];
            spec.Args.AddRange(program is null ? given.Skip(1) : ShellWords.Split(args ?? ""));
            foreach (var (key, value) in Pairs(result.GetValue(env), "--env"))
            {
                spec.Env[key] = value;
            }

            spec.WorkingDir = result.GetValue(workdir) ?? "";
            return spec;
        }

        HttpSpec HttpSpecOf(ParseResult result)
        {
            if (result.GetValue(command) is not null || (result.GetValue(argv) ?? []).Length > 0 || result.GetValue(executor) is not null)
            {
                throw new UsageException("--http makes an HTTP call; it does not go with a program or --executor");
            }

            var spec = new HttpSpec { Url = result.GetValue(http)!, Method = result.GetValue(method) ?? "" };
            foreach (var line in result.GetValue(header) ?? [])
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0)
                {
                    throw new UsageException($"--header \"{line}\" is not \"Name: value\"");
                }

                var name = line[..colon].Trim();
                var value = line[(colon + 1)..].Trim();
                spec.Headers[name] = spec.Headers.TryGetValue(name, out var earlier) ? $"{earlier}, {value}" : value;
            }

            if (result.GetValue(data) is not null && result.GetValue(dataFile) is not null)
            {
                throw new UsageException("give the body with --data or --data-file, not both");
            }

            if (result.GetValue(data) is { } text)
            {
                spec.Body = Google.Protobuf.ByteString.CopyFromUtf8(text);
            }
            else if (result.GetValue(dataFile) is { } file)
            {
                if (!file.Exists)
                {
                    throw new UsageException($"--data-file {file.FullName} does not exist");
                }

                spec.Body = Google.Protobuf.ByteString.CopyFrom(File.ReadAllBytes(file.FullName));
            }

            if (result.GetValue(expect) is { } ranges)
            {
                spec.ExpectedStatus.AddRange(StatusRanges.Parse(ranges));
            }

            spec.ResponseCapBytes = result.GetValue(responseCap) ?? 0;
            spec.MaxRetries = Math.Clamp(result.GetValue(retries) ?? 0, 0, 10);
            return spec;
        }

        PluginSpec PluginSpecOf(ParseResult result)
        {
            if (result.GetValue(command) is not null || (result.GetValue(argv) ?? []).Length > 0)
            {
                throw new UsageException("--executor runs a plug-in; it does not go with a program");
            }

            var spec = new PluginSpec { Executor = result.GetValue(executor)! };
            foreach (var (key, value) in Pairs(result.GetValue(param), "--param"))
            {
                spec.Parameters[key] = value;
            }

            return spec;
        }
    }

    private static IEnumerable<(string Key, string Value)> Pairs(string[]? pairs, string option)
    {
        foreach (var pair in pairs ?? [])
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new UsageException($"{option} \"{pair}\" is not KEY=VALUE");
            }

            yield return (pair[..eq], pair[(eq + 1)..]);
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
    private static void RejectUnknownOptions(ParseResult result, Command run, Argument<string[]> argv)
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
