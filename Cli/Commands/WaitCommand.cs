using System.CommandLine;
using DistributedExecutor.Contracts.V1;
using Grpc.Core;

namespace DistributedExecutor.Cli.Commands;

/// <summary><c>distctl wait &lt;job-id&gt;</c>: waits for a job submitted earlier and exits with its code, as run --wait would.</summary>
internal static class WaitCommand
{
    public static Command Create()
    {
        var jobId = new Argument<string>("job-id") { Description = "The job id (or a unique prefix of it)" };
        var timeout = new Option<string?>("--timeout") { Description = "Give up after this long (30s, 5m, 1h30m): exit 124, the job goes on" };
        var wait = new Command("wait", "Wait for a job to end and exit with its exit code (as run --wait); prints its final state on stderr") { jobId, timeout };
        wait.SetAction((result, _) => CliErrors.Guard(async () =>
        {
            using var deadline = result.GetValue(timeout) is { } t ? new CancellationTokenSource(DurationParser.Parse(t)) : new CancellationTokenSource();
            using var both = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, Interrupts.Token);
            using var master = GlobalOptions.Connect(result);
            Job job;
            try
            {
                job = await WaitForEndAsync(master.Jobs, result.GetValue(jobId)!, both.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (deadline.IsCancellationRequested && !Interrupts.Token.IsCancellationRequested && ex is OperationCanceledException or RpcException)
            {
                Console.Error.WriteLine($"distctl: job {result.GetValue(jobId)} did not end within {result.GetValue(timeout)}; it goes on");
                return ExitCodes.TimedOut;
            }

            var failed = job.Tasks.FirstOrDefault(task => task.State != TaskState.Succeeded && task.Error.Length > 0);
            Console.Error.WriteLine(Formatting.Safe($"distctl: job {job.Id} {Formatting.State(job.State)}{(failed is null ? "" : $": {failed.Error}")}"));
            return JobWatcher.ExitCodeOf(job);
        }));
        return wait;
    }

    /// <summary>Follows the job's stream (its output skipped) until its final state.</summary>
    private static async Task<Job> WaitForEndAsync(JobService.JobServiceClient jobs, string jobId, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                using var call = jobs.WatchJob(new WatchJobRequest { JobId = jobId, FromOffset = long.MaxValue - 1, Follow = true }, cancellationToken: cancellationToken);
                await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (message.EventCase == WatchJobResponse.EventOneofCase.State && JobWatcher.IsTerminal(message.State.Job.State))
                    {
                        return message.State.Job;
                    }
                }
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal && !cancellationToken.IsCancellationRequested)
            {
                // The master restarted or the network blinked: follow again.
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
