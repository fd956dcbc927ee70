using DistributedExecutor.Executors;
using DistributedExecutor.Executors.Plugins;
using DistributedExecutor.Hosting.Settings;
using DistributedExecutor.Master.Options;
using MassTransit;

namespace DistributedExecutor.Master;

/// <summary>
/// Workers that run inside the master's process (EMBEDDED_WORKERS, development): the development host fills
/// this in, so that the master never references the worker.
/// </summary>
internal interface IEmbeddedWorkers
{
    /// <summary>Adds the workers' services; false (problems in <paramref name="settings"/>) when they cannot run.</summary>
    bool Add(WebApplicationBuilder builder, MasterOptions master, ExecutorOptions executors, PluginCatalog plugins, SettingsReader settings);

    /// <summary>The workers' consumers on the master's bus.</summary>
    void AddConsumers(IBusRegistrationConfigurator bus);

    /// <summary>The workers' endpoints (their pool's task queue, cancels) on the master's bus.</summary>
    void ConfigureEndpoints(IBusRegistrationContext context, IBusFactoryConfigurator cfg);

    /// <summary>Once the host is built (logs how tasks are isolated).</summary>
    void Started(IServiceProvider services);
}
