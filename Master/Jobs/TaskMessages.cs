using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Jobs;

/// <summary>From the API's task spec to the bus message a worker runs.</summary>
internal static class TaskMessages
{
    public static ExecuteTask ToExecuteTask(Guid jobId, Guid taskId, int index, TaskSpec spec, TimeSpan defaultTimeout)
    {
        var timeout = spec.Timeout is { } t ? t.ToTimeSpan() : defaultTimeout;
        return spec.ExecutorCase switch
        {
            TaskSpec.ExecutorOneofCase.Command => new ExecuteTask(jobId, taskId, index, "command",
                new CommandTask(spec.Command.Program, [.. spec.Command.Args], spec.Command.Env.ToDictionary(), NullIfEmpty(spec.Command.WorkingDir)),
                timeout),
            _ => new ExecuteTask(jobId, taskId, index, spec.ExecutorCase.ToString().ToLowerInvariant(), null, timeout),
        };
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
