using System.CommandLine;
using DistributedExecutor.Contracts.V1;
using Google.Protobuf.WellKnownTypes;
using Option = System.CommandLine.Option;

namespace DistributedExecutor.Cli.Commands;

/// <summary>
/// What a job runs and how, as <c>distctl run</c> and <c>distctl schedule create</c> both take it: the program (or HTTP
/// call, or plug-in), its items, pool, retries, limits and labels. <see cref="SpecOf"/> turns the parsed options into
/// a JobSpec, with a usage error for every combination that does not go together.
/// </summary>
internal sealed class JobOptions
{
    private readonly Dictionary<string, Option> _byName;

    private JobOptions(IReadOnlyList<Option> options, Argument<string[]> program, Func<ParseResult, (JobSpec Job, List<string>? Batch)> specOf)
    {
        All = options;
        _byName = options.ToDictionary(o => o.Name, StringComparer.Ordinal);
        Program = program;
        SpecOf = specOf;
    }

    /// <summary>Every option (a verb's help groups them by name).</summary>
    public IReadOnlyList<Option> All { get; }

    /// <summary>The option named <paramref name="name"/> (its long name, as "--pool").</summary>
    public Option this[string name] => _byName[name];

    /// <summary>After --: the program and its arguments.</summary>
    public Argument<string[]> Program { get; }

    /// <summary>The job the options describe, and its items when it is a batch (null otherwise).</summary>
    public Func<ParseResult, (JobSpec Job, List<string>? Batch)> SpecOf { get; }

    public static JobOptions Create()
    {
        var command = new Option<string?>("--command", "-c") { Description = "Program to run (or give it after --)" };
        var arguments = new Option<string?>("--args", "-a") { Description = "Arguments as one string, split like a shell splits words (quotes respected, nothing expanded)" };
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
        var label = new Option<string[]>("--label", "-l") { Description = "Label KEY=VALUE on the job (repeatable; filter with distctl list --label)", AllowMultipleArgumentsPerToken = false };
        var items = new Option<string[]>("--items") { Description = "One task per item, {} in the command replaced by it (else appended)", AllowMultipleArgumentsPerToken = true };
        var itemsFile = new Option<FileInfo?>("--items-file") { Description = "One task per line of this file (- for stdin), as --items" };
        var allWorkers = new Option<bool>("--all-workers") { Description = "Run the command once on every worker of the pool alive now; output per worker" };
        var where = new Option<string[]>("--where") { Description = "With --all-workers: only workers with this label KEY=VALUE (WORKER_LABELS; repeatable: all must match)", AllowMultipleArgumentsPerToken = false };
        var maxParallel = new Option<int?>("--max-parallel") { Description = "Never more than N of this job's tasks queued or running at once, across all workers" };
        var maxErrors = new Option<int?>("--max-errors") { Description = "After N failed tasks, the tasks not yet started are canceled" };
        var priority = new Option<string?>("--priority") { Description = "high, normal (default) or low: within the pool, queued high tasks start before normal before low" };
        var concurrencyKey = new Option<string?>("--concurrency-key") { Description = "The job's tasks hold this key: across all jobs at most its limit (distctl limits set) run at once" };
        var executor = new Option<string?>("--executor") { Description = "Run through this plug-in executor" };
        var param = new Option<string[]>("--param") { Description = "Plug-in parameter KEY=VALUE (repeatable)", AllowMultipleArgumentsPerToken = false };
        var argv = new Argument<string[]>("program-and-args")
        {
            Description = "After --: the program and its arguments, passed exactly",
            Arity = ArgumentArity.ZeroOrMore,
        };

        Option[] all =
        [
            command, arguments, timeout, pool, env, workdir, http, method, header, data, dataFile, expect, responseCap, retries, backoff, maxBackoff,
            retryOn, label, items, itemsFile, allWorkers, where, maxParallel, maxErrors, concurrencyKey, executor, param, priority,
        ];
        return new JobOptions(all, argv, result =>
        {
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
                MaxParallel = result.GetValue(maxParallel) is { } p ? (p > 0 ? p : throw new UsageException($"--max-parallel {p} must be at least 1")) : 0,
                MaxErrors = result.GetValue(maxErrors) is { } e ? (e > 0 ? e : throw new UsageException($"--max-errors {e} must be at least 1")) : 0,
                AllWorkers = result.GetValue(allWorkers),
            };
            job.Where.AddRange(result.GetValue(where) ?? []);
            job.ConcurrencyKey = result.GetValue(concurrencyKey) ?? "";
            job.Priority = result.GetValue(priority)?.ToLowerInvariant() switch
            {
                null => Priority.Unspecified,
                "high" => Priority.High,
                "normal" => Priority.Normal,
                "low" => Priority.Low,
                var other => throw new UsageException($"--priority {other}: use high, normal or low"),
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

            return (job, batch);
        });

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

            return null;
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
}
