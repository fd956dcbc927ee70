using DistributedExecutor.Contracts.Messages;

namespace DistributedExecutor.Worker.Executors;

/// <summary>How an execution ended.</summary>
internal sealed record TaskRunResult(TaskOutcome Outcome, int? ExitCode, int? Signal, string? Error)
{
    public static TaskRunResult CouldNotStart(string error) => new(TaskOutcome.Failed, null, null, $"could not start: {error}");
}
