using System.Reflection;
using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Executors.Command;
using DistributedExecutor.Executors.Http;
using DistributedExecutor.Executors.Isolation;
using DistributedExecutor.Executors.Plugins;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DistributedExecutor.Executors;

/// <summary>Registration of the executors, for the master (to validate) and the worker (to run).</summary>
internal static class ExecutorExtensions
{
    /// <summary>
    /// The executors and their policy. The master registers them too, to validate submissions with exactly
    /// the checks a worker applies; registering twice is harmless.
    /// </summary>
    public static IServiceCollection AddExecutors(this IServiceCollection services, ExecutorOptions options, PluginCatalog plugins)
    {
        if (services.Any(d => d.ServiceType == typeof(ExecutorRegistry)))
        {
            return services;
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton(new CommandPolicy(options.Command));
        // A process that runs tasks registered its own (AddTaskIsolation) before this.
        services.TryAddSingleton(TaskIsolation.ValidationOnly);
        services.AddSingleton(new AddressPolicy(options.Http));
        if (options.Command.Enabled)
        {
            services.AddSingleton<ITaskExecutor, CommandExecutor>();
        }

        if (options.Http.Enabled)
        {
            services.AddSingleton<ITaskExecutor, HttpExecutor>();
        }

        foreach (var type in plugins.Types)
        {
            services.AddSingleton(typeof(ITaskExecutor), type);
        }

        services.AddSingleton<ExecutorRegistry>();
        return services;
    }

    /// <summary>Creates every executor now, so a broken plug-in or a name clash stops start-up with one line.</summary>
    public static bool ExecutorsLoad(this IServiceProvider services, string process)
    {
        try
        {
            _ = services.GetRequiredService<ExecutorRegistry>();
            return true;
        }
        catch (Exception ex) when (ex is InvalidOperationException or MissingMethodException or TargetInvocationException)
        {
            Console.Error.WriteLine($"{process}: executors: {(ex as TargetInvocationException)?.InnerException?.Message ?? ex.Message}");
            return false;
        }
    }
}
