using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Jobs;

/// <summary>From the API's task spec to the bus message a worker runs.</summary>
internal static class TaskMessages
{
    /// <summary>Response bytes an HTTP task keeps when its spec sets no cap.</summary>
    public const long DefaultResponseCapBytes = 1024 * 1024;

    /// <summary>The executor a spec names ("" when it names none).</summary>
    public static string ExecutorOf(TaskSpec spec) => spec.ExecutorCase switch
    {
        TaskSpec.ExecutorOneofCase.Command => "command",
        TaskSpec.ExecutorOneofCase.Http => "http",
        TaskSpec.ExecutorOneofCase.Plugin => spec.Plugin.Executor,
        _ => "",
    };

    public static ExecuteTask ToExecuteTask(Guid jobId, Guid taskId, TaskSpec spec, TimeSpan defaultTimeout, int dispatch = 1) =>
        ToExecuteTaskOnce(jobId, taskId, spec, defaultTimeout) with
        {
            Dispatch = dispatch,
            TargetWorker = spec.Worker.Length == 0 ? null : spec.Worker,
            Priority = spec.Priority switch
            {
                Priority.High => TaskPriority.High,
                Priority.Low => TaskPriority.Low,
                _ => TaskPriority.Normal,
            },
        };

    private static ExecuteTask ToExecuteTaskOnce(Guid jobId, Guid taskId, TaskSpec spec, TimeSpan defaultTimeout)
    {
        var timeout = spec.Timeout is { } t ? t.ToTimeSpan() : defaultTimeout;
        return spec.ExecutorCase switch
        {
            TaskSpec.ExecutorOneofCase.Command => new ExecuteTask(jobId, taskId, "command",
                new CommandTask(spec.Command.Program, [.. spec.Command.Args], spec.Command.Env.ToDictionary(), NullIfEmpty(spec.Command.WorkingDir)),
                timeout),
            TaskSpec.ExecutorOneofCase.Http => new ExecuteTask(jobId, taskId, "http", null, timeout, Http: new HttpTask(
                spec.Http.Method.Length == 0 ? "GET" : spec.Http.Method.ToUpperInvariant(),
                spec.Http.Url,
                spec.Http.Headers.ToDictionary(),
                spec.Http.Body.ToByteArray(),
                [.. spec.Http.ExpectedStatus.Select(r => new Contracts.Messages.StatusRange(r.Min, r.Max))],
                spec.Http.ResponseCapBytes == 0 ? DefaultResponseCapBytes : spec.Http.ResponseCapBytes,
                spec.Http.MaxRetries)),
            TaskSpec.ExecutorOneofCase.Plugin => new ExecuteTask(jobId, taskId, spec.Plugin.Executor, null, timeout,
                Parameters: spec.Plugin.Parameters.ToDictionary()),
            _ => new ExecuteTask(jobId, taskId, "", null, timeout),
        };
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
