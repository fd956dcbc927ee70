using DistributedExecutor.Contracts.V1;
using Grpc.Core;

namespace DistributedExecutor.Cli;

/// <summary>
/// Follows a job's output: stdout chunks to stdout, stderr chunks to stderr, as they arrive. A dropped
/// stream (master restart, network blip) resumes from the last offset seen.
/// </summary>
internal static class JobWatcher
{
    private static readonly TimeSpan ReconnectFor = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan RetryEvery = TimeSpan.FromMilliseconds(500);

    /// <summary>Called before output is printed (a progress line on the same terminal clears itself).</summary>
    public static Action? BeforeOutput { get; set; }

    /// <summary>Streams the job's output; with <paramref name="prefixes"/> (one per task) each line starts "[prefix] ".</summary>
    /// <paramref name="include"/> picks the chunks to print (all when null); printing starts after <paramref name="fromOffset"/>.
    public static async Task<Job> WatchAsync(JobService.JobServiceClient jobs, string jobId, bool follow, IReadOnlyList<string>? prefixes, CancellationToken cancellationToken,
        Func<OutputChunk, bool>? include = null, long fromOffset = 0, bool timestamps = false)
    {
        var lines = new LinePrefixer(prefixes, timestamps);
        using var stdout = Console.OpenStandardOutput();
        using var stderr = Console.OpenStandardError();
        var offset = fromOffset;
        var failingSince = (DateTimeOffset?)null;
        while (true)
        {
            try
            {
                using var call = jobs.WatchJob(new WatchJobRequest { JobId = jobId, FromOffset = offset, Follow = follow }, cancellationToken: cancellationToken);
                Job? last = null;
                await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    failingSince = null;
                    switch (message.EventCase)
                    {
                        case WatchJobResponse.EventOneofCase.Output when include is not null && !include(message.Output):
                            offset = message.Output.Offset;
                            break;
                        case WatchJobResponse.EventOneofCase.Output:
                            BeforeOutput?.Invoke();
                            var chunk = message.Output;
                            var target = chunk.Stream == OutputStream.Stderr ? stderr : stdout;
                            foreach (var (bytes, startsLine, _) in lines.Pieces(chunk))
                            {
                                if (startsLine && lines.Prefixed)
                                {
                                    await target.WriteAsync(lines.PrefixOf(chunk), cancellationToken).ConfigureAwait(false);
                                }

                                await target.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                            }

                            await target.FlushAsync(cancellationToken).ConfigureAwait(false);
                            offset = chunk.Offset;
                            break;
                        case WatchJobResponse.EventOneofCase.State:
                            last = message.State.Job;
                            break;
                    }
                }

                if (last is not null && (!follow || IsTerminal(last.State)))
                {
                    return last;
                }
            }
            catch (RpcException ex) when (IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                if (OutlastsTheWindow(ref failingSince))
                {
                    throw;
                }
            }

            await Task.Delay(RetryEvery, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A call a follower makes before it watches (the job's record, the stored output), tried again as the watch is
    /// while the master is unreachable (restarting, or the one behind the address just killed), for as long. The first
    /// failure is said once on stderr, so a wrong address does not look like a hang.
    /// </summary>
    public static async Task<T> ReconnectingAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        var failingSince = (DateTimeOffset?)null;
        while (true)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (RpcException ex) when (IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                var first = failingSince is null;
                if (OutlastsTheWindow(ref failingSince))
                {
                    throw;
                }

                if (first)
                {
                    await Console.Error.WriteLineAsync(Formatting.Safe(
                        $"distctl: cannot reach the master ({ex.Status.Detail}); trying again for up to {ReconnectFor.TotalSeconds:0} s (Ctrl-C to stop)")).ConfigureAwait(false);
                }
            }

            await Task.Delay(RetryEvery, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Counts a transient failure against the window: the first since the last success starts it. True once failures
    /// have gone on longer than <see cref="ReconnectFor"/>: time to give up.
    /// </summary>
    private static bool OutlastsTheWindow(ref DateTimeOffset? failingSince)
    {
        failingSince ??= DateTimeOffset.UtcNow;
        return DateTimeOffset.UtcNow - failingSince > ReconnectFor;
    }

    /// <summary>A failure that a master restart or a dropped connection explains, worth trying again.</summary>
    private static bool IsTransient(RpcException ex) => ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown;

    /// <summary>Waits for the job to end, then prints each task's output as one block under "== item ==".</summary>
    public static async Task<Job> WatchGroupedAsync(JobService.JobServiceClient jobs, string jobId, IReadOnlyList<string> items, CancellationToken cancellationToken)
    {
        var outputs = new SortedDictionary<int, (System.IO.MemoryStream Out, System.IO.MemoryStream Err)>();
        long offset = 0;
        Job? final = null;
        while (final is null)
        {
            using var call = jobs.WatchJob(new WatchJobRequest { JobId = jobId, FromOffset = offset, Follow = true }, cancellationToken: cancellationToken);
            await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (message.EventCase == WatchJobResponse.EventOneofCase.Output)
                {
                    var chunk = message.Output;
                    if (!outputs.TryGetValue(chunk.TaskIndex, out var streams))
                    {
                        outputs[chunk.TaskIndex] = streams = (new(), new());
                    }

                    chunk.Data.WriteTo(chunk.Stream == OutputStream.Stderr ? streams.Err : streams.Out);
                    offset = chunk.Offset;
                }
                else if (message.EventCase == WatchJobResponse.EventOneofCase.State && IsTerminal(message.State.Job.State))
                {
                    final = message.State.Job;
                }
            }
        }

        using var stdout = Console.OpenStandardOutput();
        using var stderr = Console.OpenStandardError();
        foreach (var task in final.Tasks.OrderBy(t => t.Index))
        {
            var header = System.Text.Encoding.UTF8.GetBytes($"== {(task.Index < items.Count ? items[task.Index] : task.Index.ToString(System.Globalization.CultureInfo.InvariantCulture))} ({task.State.ToString().ToLowerInvariant()}) ==\n");
            await stdout.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            if (outputs.TryGetValue(task.Index, out var streams))
            {
                await stdout.WriteAsync(streams.Out.ToArray(), cancellationToken).ConfigureAwait(false);
                await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
                await stderr.WriteAsync(streams.Err.ToArray(), cancellationToken).ConfigureAwait(false);
            }
        }

        return final;
    }

    /// <summary>The job's output stored so far that <paramref name="include"/> picks, and the offset it reaches.</summary>
    public static async Task<(List<OutputChunk> Chunks, long Offset)> ReadAllAsync(JobService.JobServiceClient jobs, string jobId, Func<OutputChunk, bool> include, CancellationToken cancellationToken)
    {
        var chunks = new List<OutputChunk>();
        long offset = 0;
        using var call = jobs.WatchJob(new WatchJobRequest { JobId = jobId, Follow = false }, cancellationToken: cancellationToken);
        await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (message.EventCase == WatchJobResponse.EventOneofCase.Output)
            {
                offset = message.Output.Offset;
                if (include(message.Output))
                {
                    chunks.Add(message.Output);
                }
            }
        }

        return (chunks, offset);
    }

    public static bool IsTerminal(TaskState state) =>
        state is TaskState.Succeeded or TaskState.Failed or TaskState.TimedOut or TaskState.Canceled;

    /// <summary>The exit code distctl reports for a finished job (see <see cref="ExitCodes"/>).</summary>
    public static int ExitCodeOf(Job job)
    {
        if (job.State == TaskState.Succeeded)
        {
            return ExitCodes.Success;
        }

        if (job.State == TaskState.Canceled)
        {
            return ExitCodes.Canceled;
        }

        foreach (var task in job.Tasks.Where(t => t.State != TaskState.Succeeded).OrderBy(t => t.Index))
        {
            switch (task.State)
            {
                case TaskState.TimedOut:
                    return ExitCodes.TimedOut;
                case TaskState.Canceled:
                    return ExitCodes.Canceled;
                case TaskState.Failed when task.HasSignal:
                    return 128 + task.Signal;
                case TaskState.Failed when task.HasExitCode:
                    return task.ExitCode;
                case TaskState.Failed when task.FailureKind == FailureKind.CouldNotStart:
                    return ExitCodes.CouldNotStart;
                case TaskState.Failed when task.FailureKind == FailureKind.Refused:
                    return ExitCodes.Rejected;
                case TaskState.Failed:
                    return ExitCodes.Failure;
            }
        }

        return ExitCodes.Failure;
    }
}
