using System.CommandLine;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli.Commands;

/// <summary><c>distctl list</c>: jobs, newest first.</summary>
internal static class ListCommand
{
    public static Command Create()
    {
        var state = new Option<string?>("--state", "-s") { Description = "Only jobs in this state (scheduled, waiting, queued, running, succeeded, failed, timedout, canceled)" };
        var pool = new Option<string?>("--pool", "-p") { Description = "Only jobs of this pool" };
        var label = new Option<string[]>("--label", "-l") { Description = "Only jobs with this label KEY=VALUE (repeatable: all must match)", AllowMultipleArgumentsPerToken = false };
        var limit = new Option<int>("--limit", "-n") { Description = "At most this many (1-1000)", DefaultValueFactory = _ => 50 };
        var output = OutputFormat.Option();
        var quiet = OutputFormat.Quiet();
        var by = new Option<string?>("--submitted-by", "--by") { Description = "Only jobs submitted by the token of this name" };
        var search = new Option<string?>("--search") { Description = "Only jobs whose command contains this text, or with a task of this item" };
        var list = new Command("list", "List jobs, newest first") { state, pool, label, by, search, limit, output, quiet };
        list.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            var request = new ListJobsRequest { Pool = result.GetValue(pool) ?? "", PageSize = result.GetValue(limit), SubmittedBy = result.GetValue(by) ?? "", Search = result.GetValue(search) ?? "" };
            foreach (var pair in result.GetValue(label) ?? [])
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    throw new UsageException($"--label \"{pair}\" is not KEY=VALUE");
                }

                request.Labels[pair[..eq]] = pair[(eq + 1)..];
            }

            if (result.GetValue(state) is { } s)
            {
                request.State = s.ToLowerInvariant() switch
                {
                    "queued" => TaskState.Queued,
                    "running" => TaskState.Running,
                    "succeeded" => TaskState.Succeeded,
                    "failed" => TaskState.Failed,
                    "timedout" or "timed-out" or "timed_out" => TaskState.TimedOut,
                    "canceled" or "cancelled" => TaskState.Canceled,
                    "scheduled" => TaskState.Scheduled,
                    "waiting" => TaskState.Waiting,
                    _ => throw new UsageException($"--state \"{s}\" is not one of scheduled, waiting, queued, running, succeeded, failed, timedout, canceled"),
                };
            }

            using var master = GlobalOptions.Connect(result);
            var reply = await master.Jobs.ListJobsAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false);
            var format = OutputFormat.Of(result, output, quiet);
            if (OutputFormat.TryWrite(format, reply.Jobs, j => j.Id))
            {
                return ExitCodes.Success;
            }

            var wide = format == OutputFormat.Wide;
            Console.Out.WriteLine(Formatting.Safe($"{"JOB",-36}  {"STATE",-9}  {"POOL",-12}  {"TASKS",5}  {"CREATED",-23}  {"BY",-12}  {(wide ? $"{"FINISHED",-23}  {"CANCELED BY",-12}  {"KEY",-20}  " : "")}{(wide ? "LABELS  COMMAND" : "LABELS")}"));
            foreach (var job in reply.Jobs)
            {
                var labels = string.Join(",", job.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
                var more = wide ? $"{Formatting.Time(job.FinishedAt),-23}  {Or(job.CanceledBy),-12}  {Or(job.IdempotencyKey),-20}  " : "";
                Console.Out.WriteLine(Formatting.Safe($"{job.Id,-36}  ") + Formatting.StateCell(job.State, 9) + Formatting.Safe($"  {job.Pool,-12}  {job.TaskCount,5}  {Formatting.Time(job.CreatedAt),-23}  {Or(job.SubmittedBy),-12}  {more}{labels}{(wide ? $"  {job.Command}" : "")}"));
            }

            return ExitCodes.Success;
        }));
        return list;

        static string Or(string value) => value.Length > 0 ? value : "-";
    }
}
