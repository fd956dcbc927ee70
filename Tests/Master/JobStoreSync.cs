using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Jobs.Store;

namespace DistributedExecutor.Tests.Master;

/// <summary>The store's grouped writes, waited for: tests set up jobs step by step.</summary>
internal static class JobStoreSync
{
    public static Job CreateJob(this IJobStore store, Guid jobId, string pool, IReadOnlyList<(Guid TaskId, TaskSpec Spec)> tasks, int maxParallel = 0) =>
        store.CreateJobAsync(jobId, pool, tasks, maxParallel: maxParallel).GetAwaiter().GetResult()
            ?? throw new InvalidOperationException("the store refused the job");

    public static void MarkPublished(this IJobStore store, Guid jobId) => store.MarkPublishedAsync(jobId).GetAwaiter().GetResult();
}
