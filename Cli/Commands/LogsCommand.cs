using System.CommandLine;

namespace DistributedExecutor.Cli.Commands;

/// <summary><c>distctl logs &lt;job-id&gt; [-f]</c>: the job's output, stdout to stdout and stderr to stderr.</summary>
internal static class LogsCommand
{
    public static Command Create()
    {
        var jobId = new Argument<string>("job-id") { Description = "The job id" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep streaming until the job ends" };
        var logs = new Command("logs", "Print a job's output") { jobId, follow };
        logs.SetAction((result, _) => CliErrors.Guard(async () =>
        {
            using var master = GlobalOptions.Connect(result);
            try
            {
                var job = await JobWatcher.WatchAsync(master.Jobs, result.GetValue(jobId)!, result.GetValue(follow), null, Interrupts.Token).ConfigureAwait(false);
                return result.GetValue(follow) ? JobWatcher.ExitCodeOf(job) : ExitCodes.Success;
            }
            catch (Exception ex) when (Interrupts.Token.IsCancellationRequested && ex is OperationCanceledException or Grpc.Core.RpcException)
            {
                // Ctrl-C detaches; the job goes on.
                return ExitCodes.Canceled;
            }
        }));
        return logs;
    }
}
