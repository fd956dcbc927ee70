using System.Threading.Channels;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Hosting.Bus;
using DistributedExecutor.Master.Jobs.Store;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// Publishes the rest of a big job after <c>SubmitJob</c> has answered. The job and all its tasks are in the store
/// and its first <see cref="FirstWindow"/> tasks were confirmed by the broker before the answer; the others go out
/// from here, a window at a time, each marked published once confirmed. Nothing depends on this process living:
/// a task not marked published is published again by <see cref="StartupRecovery"/> when the master starts (a
/// second copy of a message that did reach the queue runs as a duplicate that stops at once). A broker outage
/// only delays it: it tries again until the broker takes them, and tasks canceled meanwhile are not sent.
/// </summary>
internal sealed partial class TaskOutbox(TaskDispatcher dispatcher, IJobStore store, TimeProvider time, ILogger<TaskOutbox> logger, BrokerLink? broker = null) : BackgroundService
{
    /// <summary>How many of a job's tasks <c>SubmitJob</c> publishes itself before answering (all of a smaller job).</summary>
    public const int FirstWindow = 256;

    /// <summary>
    /// How many of the rest go out between two marks in the store. Small: a master that dies publishes again, at
    /// start-up, the window whose confirms it had not yet recorded (each copy runs as a recorded extra attempt).
    /// </summary>
    public const int Window = 64;

    private readonly Channel<(string Pool, Guid JobId, IReadOnlyList<ExecuteTask> Messages)> _jobs =
        Channel.CreateUnbounded<(string, Guid, IReadOnlyList<ExecuteTask>)>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Tasks of an accepted job, stored and not yet published, to publish behind its answer.</summary>
    public void Enqueue(string pool, Guid jobId, IReadOnlyList<ExecuteTask> messages) => _jobs.Writer.TryWrite((pool, jobId, messages));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var (pool, jobId, messages) in _jobs.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            foreach (var window in messages.Chunk(Window))
            {
                // Only what still waits: a job canceled meanwhile (or past its --max-errors) has its queued tasks
                // Canceled in the store, and those never go out.
                var unpublished = store.Unpublished([.. window.Select(m => m.TaskId)]);
                var still = window.Where(m => unpublished.Contains(m.TaskId)).ToArray();
                if (still.Length > 0)
                {
                    await PublishAsync(pool, jobId, still, stoppingToken).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task PublishAsync(string pool, Guid jobId, ExecuteTask[] window, CancellationToken stoppingToken)
    {
        while (true)
        {
            if (broker is not null && !await broker.WaitUsableAsync(TimeSpan.FromMinutes(1), stoppingToken).ConfigureAwait(false))
            {
                // BrokerLink logs the outage once; the tasks wait in the store meanwhile.
                continue;
            }

            if (await StoreDuty.TryAsync(ct => dispatcher.PublishStoredAsync(pool, window, ct), ex => LogRetry(ex, jobId), stoppingToken).ConfigureAwait(false))
            {
                return;
            }

            await Task.Delay(TimeSpan.FromSeconds(2), time, stoppingToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing the rest of job {JobId} failed; retrying")]
    private partial void LogRetry(Exception exception, Guid jobId);
}
