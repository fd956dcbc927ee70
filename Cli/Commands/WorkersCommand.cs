using System.CommandLine;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli.Commands;

/// <summary><c>distctl workers</c>: the registry as the master sees it.</summary>
internal static class WorkersCommand
{
    public static Command Create()
    {
        var pool = new Option<string?>("--pool", "-p") { Description = "Only workers of this pool" };
        var output = OutputFormat.Option();
        var quiet = OutputFormat.Quiet();
        var where = new Option<string[]>("--where") { Description = "Only workers with this label KEY=VALUE (repeatable: all must match)", AllowMultipleArgumentsPerToken = false };
        var workers = new Command("workers", "List workers: state, pool, load, last heartbeat, labels") { pool, where, output, quiet };
        workers.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            using var master = GlobalOptions.Connect(result);
            var all = new List<WorkerInfo>();
            var request = new ListWorkersRequest { Pool = result.GetValue(pool) ?? "", PageSize = 1000 };
            request.Where.AddRange(result.GetValue(where) ?? []);
            do
            {
                var reply = await master.Workers.ListWorkersAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false);
                all.AddRange(reply.Workers);
                request.PageToken = reply.NextPageToken;
            }
            while (request.PageToken.Length > 0);

            var format = OutputFormat.Of(result, output, quiet);
            if (OutputFormat.TryWrite(format, all, w => w.WorkerId))
            {
                return ExitCodes.Success;
            }

            var wide = format == OutputFormat.Wide;
            Console.Out.WriteLine(Formatting.Safe($"{"WORKER",-30}  {"STATE",-8}  {"POOL",-12}  {"RUNNING",7}  {"LAST HEARTBEAT",-23}  {(wide ? $"{"REGISTERED",-23}  {"EXECUTORS",-20}  " : "")}{"LABELS",-20}  TASK ISOLATION"));
            foreach (var w in all)
            {
                var more = wide ? $"{Formatting.Time(w.RegisteredAt),-23}  {string.Join(",", w.Executors),-20}  " : "";
                Console.Out.WriteLine(Formatting.Safe($"{w.WorkerId,-30}  ") + Formatting.StateCell(w.State, 8) + Formatting.Safe($"  {w.Pool,-12}  {$"{w.RunningTasks}/{w.Capacity}",7}  {Formatting.Time(w.LastHeartbeatAt),-23}  {more}{(w.Labels.Count > 0 ? string.Join(",", w.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) : "-"),-20}  {(w.TaskIsolation.Length > 0 ? w.TaskIsolation : "-")}"));
            }

            return ExitCodes.Success;
        }));
        return workers;
    }
}
