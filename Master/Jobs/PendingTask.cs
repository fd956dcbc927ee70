using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Jobs;

/// <summary>A stored task that has to be (re)published.</summary>
internal sealed record PendingTask(Guid JobId, Guid TaskId, TaskSpec Spec, string Pool, int Dispatch = 1);
