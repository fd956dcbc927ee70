using System.Globalization;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli;

/// <summary>
/// A live line on stderr while a batch runs: done / failed / running / queued, rate and ETA. Only when stderr is
/// a terminal (never in a pipe or a log), and not with --quiet or TERM=dumb. The line is cleared before output is
/// printed and when the job ends.
/// </summary>
internal sealed class Progress : IAsyncDisposable
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private bool _shown;

    private Progress(JobService.JobServiceClient jobs, string jobId)
    {
        JobWatcher.BeforeOutput = Clear;
        _loop = Task.Run(() => LoopAsync(jobs, jobId, _stop.Token));
    }

    /// <summary>Starts the line for the job, or returns null where it must not show.</summary>
    public static Progress? Start(JobService.JobServiceClient jobs, string jobId, bool quiet) =>
        quiet || Console.IsErrorRedirected || Environment.GetEnvironmentVariable("TERM") == "dumb" ? null : new Progress(jobs, jobId);

    /// <summary>The line's text for these counts after <paramref name="elapsed"/>.</summary>
    public static string Line(TaskCounts counts, int total, TimeSpan elapsed)
    {
        var done = counts.Succeeded + counts.Failed + counts.TimedOut + counts.Canceled;
        var rate = elapsed.TotalSeconds > 0 ? done / elapsed.TotalSeconds : 0;
        var eta = rate > 0 && done < total ? $", ETA {Formatting.Span(TimeSpan.FromSeconds((total - done) / rate))}" : "";
        var failed = counts.Failed + counts.TimedOut + counts.Canceled;
        return string.Create(CultureInfo.InvariantCulture, $"{done}/{total} done ({failed} failed), {counts.Running} running, {counts.Queued} queued, {rate:0.#}/s{eta}");
    }

    private async Task LoopAsync(JobService.JobServiceClient jobs, string jobId, CancellationToken stop)
    {
        var started = DateTimeOffset.UtcNow;
        using var timer = new PeriodicTimer(Every);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                var job = (await jobs.GetJobAsync(new GetJobRequest { JobId = jobId, CountsOnly = true }, cancellationToken: stop).ConfigureAwait(false)).Job;
                lock (this)
                {
                    Console.Error.Write($"\r\u001b[K{Line(job.Counts, job.TaskCount, DateTimeOffset.UtcNow - started)}");
                    _shown = true;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or Grpc.Core.RpcException)
        {
            // The job ended, or the master is away for a moment: the line simply stops.
        }
    }

    private void Clear()
    {
        lock (this)
        {
            if (_shown)
            {
                Console.Error.Write("\r\u001b[K");
                _shown = false;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        Clear();
        JobWatcher.BeforeOutput = null;
        _stop.Dispose();
    }
}
