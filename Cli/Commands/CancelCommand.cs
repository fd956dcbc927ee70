using System.CommandLine;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli.Commands;

/// <summary><c>distctl cancel &lt;job-id&gt;</c>.</summary>
internal static class CancelCommand
{
    public static Command Create()
    {
        var jobId = new Argument<string>("job-id") { Description = "The job id" };
        var cancel = new Command("cancel", "Cancel a job: running tasks are killed, queued ones never start") { jobId };
        cancel.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            using var master = GlobalOptions.Connect(result);
            var reply = await master.Jobs.CancelJobAsync(new CancelJobRequest { JobId = result.GetValue(jobId) }, cancellationToken: cancellationToken).ConfigureAwait(false);
            Console.Out.WriteLine($"{reply.Job.Id} {Formatting.State(reply.Job.State)}{(JobWatcher.IsTerminal(reply.Job.State) ? "" : " (cancel requested)")}");
            return ExitCodes.Success;
        }));
        return cancel;
    }
}
