using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli;

/// <summary>distctl run --items: one task per item, like xargs -I {} (or xargs -n1 when there is no {}).</summary>
internal static class BatchItems
{
    public const string Placeholder = "{}";

    public static TaskSpec Expand(TaskSpec template, string item)
    {
        var task = template.Clone();
        task.Item = item;
        if (task.Command is { } command)
        {
            var uses = command.Program.Contains(Placeholder, StringComparison.Ordinal) || command.Args.Any(a => a.Contains(Placeholder, StringComparison.Ordinal));
            command.Program = command.Program.Replace(Placeholder, item, StringComparison.Ordinal);
            for (var i = 0; i < command.Args.Count; i++)
            {
                command.Args[i] = command.Args[i].Replace(Placeholder, item, StringComparison.Ordinal);
            }

            if (!uses)
            {
                command.Args.Add(item);
            }
        }
        else if (task.Http is { } http)
        {
            http.Url = http.Url.Replace(Placeholder, Uri.EscapeDataString(item), StringComparison.Ordinal);
        }
        else if (task.Plugin is { } plugin)
        {
            foreach (var key in plugin.Parameters.Keys.ToList())
            {
                plugin.Parameters[key] = plugin.Parameters[key].Replace(Placeholder, item, StringComparison.Ordinal);
            }
        }

        return task;
    }
}
