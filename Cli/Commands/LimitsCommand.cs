using System.CommandLine;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli.Commands;

/// <summary>
/// <c>distctl limits set|list|delete</c>: fleet-wide concurrency limits. Tasks of jobs run with --concurrency-key KEY
/// hold the key while queued or running; at most the key's limit do at once, the rest wait in the master.
/// </summary>
internal static class LimitsCommand
{
    public static Command Create()
    {
        var key = new Argument<string>("key") { Description = "The concurrency key (as given to run --concurrency-key)" };
        var max = new Argument<int>("max") { Description = "Tasks holding the key at once, across all jobs and workers (at least 1)" };
        var set = new Command("set", "Set a key's limit; tasks waiting for it go at once if it rose") { key, max };
        set.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            using var master = GlobalOptions.Connect(result);
            var limit = await master.Jobs.SetLimitAsync(new SetLimitRequest { Key = result.GetValue(key)!, Max = result.GetValue(max) }, cancellationToken: cancellationToken).ConfigureAwait(false);
            Print([limit.Limit]);
            return ExitCodes.Success;
        }));

        var deleteKey = new Argument<string>("key") { Description = "The concurrency key" };
        var delete = new Command("delete", "Remove a key's limit: its waiting tasks go at once") { deleteKey };
        delete.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            using var master = GlobalOptions.Connect(result);
            await master.Jobs.DeleteLimitAsync(new DeleteLimitRequest { Key = result.GetValue(deleteKey)! }, cancellationToken: cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }));

        var output = OutputFormat.Option();
        var quiet = OutputFormat.Quiet();
        var list = new Command("list", "Every key with a limit: the limit, tasks holding it, tasks waiting") { output, quiet };
        list.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            using var master = GlobalOptions.Connect(result);
            var reply = await master.Jobs.ListLimitsAsync(new ListLimitsRequest(), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!OutputFormat.TryWrite(OutputFormat.Of(result, output, quiet), reply.Limits, l => l.Key))
            {
                Print(reply.Limits);
            }

            return ExitCodes.Success;
        }));

        return new Command("limits", "Fleet-wide concurrency limits for run --concurrency-key") { set, list, delete };
    }

    private static void Print(IEnumerable<ConcurrencyLimit> limits)
    {
        Console.Out.WriteLine($"{"KEY",-24}  {"MAX",6}  {"HOLDING",7}  {"WAITING",7}");
        foreach (var l in limits)
        {
            Console.Out.WriteLine(Formatting.Safe($"{l.Key,-24}  {l.Max,6}  {l.Holding,7}  {l.Waiting,7}"));
        }
    }
}
