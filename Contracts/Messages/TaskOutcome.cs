namespace DistributedExecutor.Contracts.Messages;

/// <summary>How an attempt ended (values match the proto's TaskState).</summary>
public enum TaskOutcome
{
    Succeeded = 3,
    Failed = 4,
    TimedOut = 5,
    Canceled = 6,

    /// <summary>The worker gave the task back (shutting down); its message returns to the queue.</summary>
    Abandoned = 7,
}
