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

    public static async Task<Job> WatchAsync(JobService.JobServiceClient jobs, string jobId, bool follow, bool prefixTasks, CancellationToken cancellationToken)
    {
        using var stdout = Console.OpenStandardOutput();
        using var stderr = Console.OpenStandardError();
        long offset = 0;
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
                        case WatchJobResponse.EventOneofCase.Output:
                            var chunk = message.Output;
                            var target = chunk.Stream == OutputStream.Stderr ? stderr : stdout;
                            if (prefixTasks)
                            {
                                await target.WriteAsync(System.Text.Encoding.UTF8.GetBytes($"[{chunk.TaskIndex}] "), cancellationToken).ConfigureAwait(false);
                            }

                            await target.WriteAsync(chunk.Data.Memory, cancellationToken).ConfigureAwait(false);
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
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown && !cancellationToken.IsCancellationRequested)
            {
                failingSince ??= DateTimeOffset.UtcNow;
                if (DateTimeOffset.UtcNow - failingSince > ReconnectFor)
                {
                    throw;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        }
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
                case TaskState.Failed when task.Error.StartsWith("could not start", StringComparison.Ordinal):
                    return ExitCodes.CouldNotStart;
                case TaskState.Failed when task.Error.StartsWith("refused", StringComparison.Ordinal):
                    return ExitCodes.Rejected;
                case TaskState.Failed:
                    return ExitCodes.Failure;
            }
        }

        return ExitCodes.Failure;
    }
}
