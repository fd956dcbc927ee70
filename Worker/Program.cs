using DistributedExecutor.Executors;
using DistributedExecutor.Executors.Isolation;
using DistributedExecutor.Executors.Plugins;
using DistributedExecutor.Hosting;
using DistributedExecutor.Hosting.Health;
using DistributedExecutor.Hosting.Settings;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Worker.Extensions;
using DistributedExecutor.Worker.Options;
using DistributedExecutor.Hosting.Bus;
using DistributedExecutor.Worker.Running;
using MassTransit;

// First, before anything else runs: this process again, with the runtime's tiering delay off (RuntimeTuning).
RuntimeTuning.StartWithoutTieringDelay();

// Before anything secret is read: no other process (a task included) may read this one's memory or environment.
ProcessPrivileges.MakeNonDumpable();
var builder = WebApplication.CreateSlimBuilder(args);
var settings = new SettingsReader(builder.Configuration);
var options = WorkerOptions.Load(settings, requireMaster: true);
options.RabbitMqUrl ??= new Uri("amqp://guest:guest@localhost:5672/");
var plugins = PluginCatalog.Load(options.Executors.PluginsDirectory);
foreach (var problem in plugins.Problems)
{
    settings.Fail(problem);
}

var isolation = settings.Errors.Count == 0 ? builder.Services.AddTaskIsolation(options.Executors, settings) : null;
if (isolation is null || settings.Errors.Count > 0)
{
    // One line per problem, then exit 2: every setting is checked before anything starts.
    foreach (var error in settings.Errors)
    {
        Console.Error.WriteLine($"worker: {error}");
    }

    return 2;
}

builder.AddLogging(options.LogLevel, options.JsonLogs);
builder.Services.AddSingleton(new DistexecMetrics { WorkerSide = true });
builder.Services.AddWorkerRuntime(options, plugins, [options.WorkerId]);
builder.Services.AddDrain(options);
builder.Services.AddHostedService<IdleExitService>();
builder.Services.AddMassTransit(bus =>
{
    bus.AddWorkerConsumers();
    bus.UseTransport(options.RabbitMqUrl, $"distexec-worker-{options.WorkerId}", (context, cfg) => cfg.ConfigureWorkerEndpoints(context, options));
});
builder.Services.AddGrpc();
builder.Services.AddProbes().AddTaskIsolationCheck(isolation);
builder.WebHost.ListenGrpc(ListenAddress.Parse(options.WorkerAddress), options.Tls);
builder.WebHost.ListenHttp(options.HttpAddress, options.Tls);
builder.Services.AddTelemetry(builder.Configuration, "distexec-worker");

var app = builder.Build();
app.Services.LogTaskIsolation(isolation);
if (!app.Services.ExecutorsLoad("worker"))
{
    return 2;
}

app.Lifetime.ApplicationStopping.Register(() => app.Services.GetRequiredService<WorkerNodes>().SetDraining());
app.MapGrpcHealthChecksService();
app.MapOperationalEndpoints(options.HttpAddress);
var nodes = app.Services.GetRequiredService<WorkerNodes>();
app.Services.GetRequiredService<DistexecMetrics>().ObserveTasksRunning(
    () => [new(nodes.All.Sum(n => n.Running), new KeyValuePair<string, object?>("pool", options.Pool))]);
await app.RunAsync();
return 0;
