using DistributedExecutor.Executors;
using DistributedExecutor.Executors.Isolation;
using DistributedExecutor.Executors.Plugins;
using DistributedExecutor.Hosting.Settings;
using DistributedExecutor.Master;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Worker.Extensions;
using DistributedExecutor.Worker.Options;
using MassTransit;

namespace DistributedExecutor.DevHost;

/// <summary>Workers inside the master's process, talking to it over its own gRPC port and bus.</summary>
internal sealed class EmbeddedWorkers : IEmbeddedWorkers
{
    private WorkerOptions? _options;
    private TaskIsolation? _isolation;

    public bool Add(WebApplicationBuilder builder, MasterOptions master, ExecutorOptions executors, PluginCatalog plugins, SettingsReader settings)
    {
        _isolation = builder.Services.AddTaskIsolation(executors, settings);
        if (_isolation is null)
        {
            return false;
        }

        var options = WorkerOptions.Load(settings, requireMaster: false);
        options.Executors = executors;
        options.MasterAddress = ListenAddress.Parse(master.MasterAddress).ToClientUri(tls: master.Tls is not null).ToString();
        options.MasterCaCertFile = master.Tls?.CertFile;
        options.WorkerAddress = WorkerOptions.EmbeddedAddress;
        options.RabbitMqUrl = master.RabbitMqUrl;
        options.ApiToken = master.WorkerToken ?? master.ApiToken;
        var ids = Enumerable.Range(1, master.EmbeddedWorkers).Select(i => $"{options.WorkerId}-embedded-{i}").ToList();
        builder.Services.AddWorkerRuntime(options, plugins, ids);
        builder.Services.AddHealthChecks().AddTaskIsolationCheck(_isolation);
        _options = options;
        return true;
    }

    public void AddConsumers(IBusRegistrationConfigurator bus) => bus.AddWorkerConsumers();

    public void ConfigureEndpoints(IBusRegistrationContext context, IBusFactoryConfigurator cfg) => cfg.ConfigureWorkerEndpoints(context, _options!);

    public void Started(IServiceProvider services) => services.LogTaskIsolation(_isolation!);
}
