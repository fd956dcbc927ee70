using System.CommandLine;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli.Commands;

/// <summary>
/// <c>distctl logs &lt;job-id&gt; [-f]</c>: the job's output, stdout to stdout and stderr to stderr; a batch's lines
/// start with their item, as run --wait prints them. Filters pick a task or a stream, --tail the last lines.
/// </summary>
internal static class LogsCommand
{
    public static Command Create()
    {
        var jobId = new Argument<string>("job-id") { Description = "The job id (or a unique prefix of it)" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep streaming until the job ends (Ctrl-C detaches)" };
        var item = new Option<string?>("--item") { Description = "Only the task of this item (batches) or worker (--all-workers jobs)" };
        var task = new Option<int?>("--task") { Description = "Only the task with this index (0, 1, …)" };
        var tail = new Option<int?>("--tail", "-n") { Description = "Only the last N lines of what is stored so far (then, with -f, what follows)" };
        var stdoutOnly = new Option<bool>("--stdout") { Description = "Only standard output" };
        var stderrOnly = new Option<bool>("--stderr") { Description = "Only standard error" };
        var timestamps = new Option<bool>("--timestamps") { Description = "Start each line with the time its worker read it" };
        var since = new Option<string?>("--since") { Description = "Only output read since then: a duration ago (10m, 1h30m) or a time (2026-11-28T04:00:00Z)" };
        var logs = new Command("logs", "Print a job's output") { jobId, follow, item, task, tail, stdoutOnly, stderrOnly, timestamps, since };
        logs.SetAction((result, _) => CliErrors.Guard(async () =>
        {
            if (result.GetValue(stdoutOnly) && result.GetValue(stderrOnly))
            {
                throw new UsageException("--stdout and --stderr each pick one stream; give neither for both");
            }

            if (result.GetValue(tail) is < 0)
            {
                throw new UsageException($"--tail {result.GetValue(tail)} must not be negative");
            }

            using var master = GlobalOptions.Connect(result);
            var cancellationToken = Interrupts.Token;
            try
            {
                // Following survives a master restart from its first call on, not only once it watches.
                var following = result.GetValue(follow);
                Task<T> Call<T>(Func<Task<T>> call) => following ? JobWatcher.ReconnectingAsync(call, cancellationToken) : call();
                var job = (await Call(() => master.Jobs.GetJobAsync(new GetJobRequest { JobId = result.GetValue(jobId) }, cancellationToken: cancellationToken).ResponseAsync).ConfigureAwait(false)).Job;
                var prefixes = job.Tasks.Any(t => t.Spec.Item.Length > 0) ? job.Tasks.OrderBy(t => t.Index).Select(t => t.Spec.Item).ToList() : null;
                int? index = result.GetValue(task);
                if (result.GetValue(item) is { } wanted)
                {
                    index = job.Tasks.FirstOrDefault(t => t.Spec.Item == wanted)?.Index
                        ?? throw new UsageException($"--item {wanted}: job {job.Id} has no task for that item");
                }

                if (index is { } i && !job.Tasks.Any(t => t.Index == i))
                {
                    throw new UsageException($"--task {i}: job {job.Id} has tasks 0 to {job.Tasks.Count - 1}");
                }

                var stream = result.GetValue(stdoutOnly) ? OutputStream.Stdout : result.GetValue(stderrOnly) ? OutputStream.Stderr : (OutputStream?)null;
                var from = SinceOf(result.GetValue(since));
                bool Include(OutputChunk chunk) => (index is null || chunk.TaskIndex == index) && (stream is null || chunk.Stream == stream)
                    && (from is null || (chunk.At is { } at && at.ToDateTimeOffset() >= from));
                var stamped = result.GetValue(timestamps);

                long offset = 0;
                if (result.GetValue(tail) is { } lines)
                {
                    (var chunks, offset) = await Call(() => JobWatcher.ReadAllAsync(master.Jobs, job.Id, Include, cancellationToken)).ConfigureAwait(false);
                    PrintTail(chunks, lines, new LinePrefixer(prefixes, stamped));
                    if (!following)
                    {
                        return ExitCodes.Success;
                    }
                }

                var ended = await JobWatcher.WatchAsync(master.Jobs, job.Id, following, prefixes, cancellationToken, Include, offset, stamped).ConfigureAwait(false);
                return following ? JobWatcher.ExitCodeOf(ended) : ExitCodes.Success;
            }
            catch (Exception ex) when (Interrupts.Token.IsCancellationRequested && ex is OperationCanceledException or Grpc.Core.RpcException)
            {
                // Ctrl-C detaches; the job goes on.
                return ExitCodes.Canceled;
            }
        }));
        return logs;
    }

    /// <summary>The last <paramref name="count"/> lines of the chunks, each to its stream, prefixed by item in a batch.</summary>
    /// <summary>--since: a duration ago or a point in time; null when not given.</summary>
    private static DateTimeOffset? SinceOf(string? value)
    {
        if (value is null)
        {
            return null;
        }

        try
        {
            return TimeArgument.PointIn(value, clockAllowed: false) ?? TimeArgument.FromNow(value, ago: true);
        }
        catch (FormatException)
        {
            throw new UsageException($"--since {value}: give a duration ago (10m, 1h30m) or a time (2026-11-28T04:00:00Z)");
        }
    }

    private static void PrintTail(List<OutputChunk> chunks, int count, LinePrefixer prefixer)
    {
        // Lines in the order they were stored (chunks come by offset); a line ends in the chunk that ends it.
        var lines = new List<(OutputStream Stream, byte[] Bytes)>();
        var partial = new Dictionary<(int, OutputStream), List<byte>>();
        foreach (var chunk in chunks)
        {
            var key = (chunk.TaskIndex, chunk.Stream);
            foreach (var (bytes, startsLine, endsLine) in prefixer.Pieces(chunk))
            {
                if (startsLine)
                {
                    partial[key] = [.. prefixer.PrefixOf(chunk)];
                }

                partial[key].AddRange(bytes.Span);
                if (endsLine && partial.Remove(key, out var line))
                {
                    lines.Add((chunk.Stream, [.. line]));
                }
            }
        }

        // Lines still unfinished (no newline yet) come last, ended here.
        lines.AddRange(partial.Select(p => (p.Key.Item2, (byte[])[.. p.Value, (byte)'\n'])));
        using var stdout = Console.OpenStandardOutput();
        using var stderr = Console.OpenStandardError();
        foreach (var (stream, bytes) in lines.Skip(Math.Max(0, lines.Count - count)))
        {
            (stream == OutputStream.Stderr ? stderr : stdout).Write(bytes);
        }
    }
}
