using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DistributedExecutor.Hosting.Health;

/// <summary>
/// What the probes ask, on the gRPC health service of master and worker. The default service ("") is readiness:
/// every check (the broker, the store, …), so a process that cannot work takes no traffic. The service
/// <see cref="LivenessService"/> is liveness: the process answers, nothing else — a broker outage must never get a
/// master or a worker restarted (killing the tasks it runs) when the outage, not the process, is the problem.
/// </summary>
internal static class ProbeExtensions
{
    /// <summary>The gRPC health service name liveness and startup probes ask for.</summary>
    public const string LivenessService = "liveness";

    private const string LiveTag = "live";

    public static IHealthChecksBuilder AddProbes(this IServiceCollection services) =>
        services.AddGrpcHealthChecks(o =>
            {
                o.Services.Map("", _ => true);
                o.Services.Map(LivenessService, check => check.Tags.Contains(LiveTag));
            })
            .AddCheck("process", () => HealthCheckResult.Healthy("answering"), tags: [LiveTag])
            .AddCheck<BrokerHealthCheck>("broker");
}
