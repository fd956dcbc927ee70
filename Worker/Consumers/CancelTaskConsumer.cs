using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Worker.Running;
using MassTransit;

namespace DistributedExecutor.Worker.Consumers;

/// <summary>Every worker hears every cancel; each stops what it runs of that job.</summary>
internal sealed partial class CancelTaskConsumer(RunningTasks running, ILogger<CancelTaskConsumer> logger) : IConsumer<CancelTask>
{
    public Task Consume(ConsumeContext<CancelTask> context)
    {
        var message = context.Message;
        var stopped = running.Cancel(message.JobId, message.TaskId);
        LogCanceled(message.JobId, stopped, message.Reason);
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Cancel for job {JobId}: stopping {Count} running task(s) ({Reason})")]
    private partial void LogCanceled(Guid jobId, int count, string reason);
}
