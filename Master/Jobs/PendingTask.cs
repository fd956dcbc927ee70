using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Jobs;

/// <summary>A stored task that has to be (re)published.</summary>
internal sealed record PendingTask(Guid JobId, Guid TaskId, TaskSpec Spec, string Pool, int Dispatch = 1);

/// <summary>A job as its cancel left it, and the tasks its end let go (of its key, of the jobs that run after it): the caller publishes them.</summary>
internal sealed record CanceledJob(Job Job, IReadOnlyList<PendingTask> Released);
