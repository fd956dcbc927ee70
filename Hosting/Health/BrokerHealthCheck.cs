using MassTransit;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DistributedExecutor.Hosting.Health;

/// <summary>
/// Ready only while the bus is fully up. MassTransit's own check reports a lost broker connection as Degraded,
/// which readiness counts as healthy; a process that cannot reach the broker must take no traffic.
/// </summary>
internal sealed class BrokerHealthCheck(IBusControl bus) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var health = bus.CheckHealth();
        return Task.FromResult(health.Status == BusHealthStatus.Healthy
            ? HealthCheckResult.Healthy("connected")
            : HealthCheckResult.Unhealthy($"not connected ({health.Status})"));
    }
}
