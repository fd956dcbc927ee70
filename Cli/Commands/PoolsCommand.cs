using System.CommandLine;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli.Commands;

/// <summary><c>distctl pools</c>: each pool's queue depth, running tasks and live workers.</summary>
internal static class PoolsCommand
{
    public static Command Create()
    {
        var output = OutputFormat.Option();
        var quiet = OutputFormat.Quiet();
        var pools = new Command("pools", "List pools: tasks queued and running, live workers and their capacity") { output, quiet };
        pools.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            using var master = GlobalOptions.Connect(result);
            var reply = await master.Jobs.ListPoolsAsync(new ListPoolsRequest(), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (OutputFormat.TryWrite(OutputFormat.Of(result, output, quiet), reply.Pools, p => p.Name))
            {
                return ExitCodes.Success;
            }

            Console.Out.WriteLine($"{"POOL",-20}  {"QUEUED",8}  {"RUNNING",8}  {"WORKERS",8}  {"CAPACITY",8}");
            foreach (var p in reply.Pools)
            {
                Console.Out.WriteLine(Formatting.Safe($"{p.Name,-20}  {p.QueuedTasks,8}  {p.RunningTasks,8}  {p.WorkersAlive,8}  {p.Capacity,8}"));
            }

            return ExitCodes.Success;
        }));
        return pools;
    }
}
