using DistributedExecutor.Executors;
using DistributedExecutor.Hosting.Settings;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DistributedExecutor.Executors.Isolation;

/// <summary>Task isolation for a process that runs tasks (a worker, or a master with embedded workers).</summary>
internal static partial class IsolationExtensions
{
    /// <summary>Decides how tasks are isolated and registers it; null (problems in <paramref name="settings"/>) when it cannot.</summary>
    public static TaskIsolation? AddTaskIsolation(this IServiceCollection services, ExecutorOptions options, SettingsReader settings)
    {
        var problems = new List<string>();
        var isolation = TaskIsolation.Create(options.TaskUser, settings.SecretFiles, problems, options.TaskContainment);
        foreach (var problem in problems)
        {
            settings.Fail(problem);
        }

        if (isolation is not null)
        {
            // A factory, so the container disposes it (removing this worker's cgroups) at shutdown.
            services.AddSingleton(_ => isolation);
        }

        return isolation;
    }

    /// <summary>/readyz shows how tasks are isolated; Degraded when they share the worker's uid.</summary>
    public static IHealthChecksBuilder AddTaskIsolationCheck(this IHealthChecksBuilder health, TaskIsolation isolation) =>
        health.AddCheck("task-isolation", () => isolation.SharesWorkerUid
            ? HealthCheckResult.Degraded(isolation.Description)
            : HealthCheckResult.Healthy(isolation.Description));

    /// <summary>Says once at start-up how tasks run; a warning when they share the worker's uid.</summary>
    public static void LogTaskIsolation(this IServiceProvider services, TaskIsolation isolation)
    {
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("DistributedExecutor.Executors.Isolation");
        if (isolation.SharesWorkerUid)
        {
            LogShared(logger, isolation.Description);
        }
        else
        {
            LogIsolated(logger, isolation.Description);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task isolation: {Isolation}. Run the worker as root (or with CAP_SETUID, CAP_SETGID and CAP_KILL) so tasks get a user of their own (TASK_USER)")]
    private static partial void LogShared(ILogger logger, string isolation);

    [LoggerMessage(Level = LogLevel.Information, Message = "Task isolation: {Isolation}")]
    private static partial void LogIsolated(ILogger logger, string isolation);
}
