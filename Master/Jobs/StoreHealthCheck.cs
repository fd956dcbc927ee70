using DistributedExecutor.Master.Jobs.Store;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DistributedExecutor.Master.Jobs;

/// <summary>Healthy while the job store answers.</summary>
internal sealed class StoreHealthCheck(IJobStore store) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            _ = store.ActiveJobs;
            _ = store.ListJobs(Contracts.V1.TaskState.Unspecified, null, 1, null);
            return Task.FromResult(HealthCheckResult.Healthy());
        }
        catch (Exception ex)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("job store unreachable", ex));
        }
    }
}
