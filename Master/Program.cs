using DistributedExecutor.Master.Dashboard;
using DistributedExecutor.Master.Extensions;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Master.Services;
using DistributedExecutor.Worker.Executors.Plugins;
using DistributedExecutor.Worker.Extensions;
using DistributedExecutor.Worker.Isolation;
using DistributedExecutor.Worker.Options;

// Before anything secret is read: no other process (a task included) may read this one's memory or environment.
ProcessPrivileges.MakeNonDumpable();
var builder = WebApplication.CreateSlimBuilder(args);
var settings = new SettingsReader(builder.Configuration);
var options = MasterOptions.Load(settings);
var workerOptions = WorkerOptions.Load(settings, requireMaster: false);
var plugins = PluginCatalog.Load(workerOptions.Executors.PluginsDirectory);
foreach (var problem in plugins.Problems)
{
    settings.Fail(problem);
}
if (settings.Errors.Count > 0)
{
    foreach (var error in settings.Errors)
    {
        Console.Error.WriteLine($"master: {error}");
    }

    return 2;
}

if (options.EmbeddedWorkers == 0)
{
    options.RabbitMqUrl ??= new Uri("amqp://guest:guest@localhost:5672/");
}

TaskIsolation? isolation = null;
if (options.EmbeddedWorkers > 0)
{
    isolation = builder.Services.AddTaskIsolation(workerOptions, settings);
    if (isolation is null)
    {
        foreach (var error in settings.Errors)
        {
            Console.Error.WriteLine($"master: {error}");
        }

        return 2;
    }
}

builder.AddLogLevel();
if (options.EmbeddedWorkers > 0)
{
    // Development: workers in this process, talking to this master over its own gRPC port.
    workerOptions.MasterAddress = ListenAddress.Parse(options.MasterAddress).ToClientUri(tls: options.Tls is not null).ToString();
    workerOptions.MasterCaCertFile = options.Tls?.CertFile;
    workerOptions.WorkerAddress = "embedded";
    workerOptions.RabbitMqUrl = options.RabbitMqUrl;
    workerOptions.ApiToken = options.WorkerToken ?? options.ApiToken;
    var ids = Enumerable.Range(1, options.EmbeddedWorkers).Select(i => $"{workerOptions.WorkerId}-embedded-{i}").ToList();
    builder.Services.AddWorkerRuntime(workerOptions, plugins, ids);
}

builder.Services.AddJobs(options, workerOptions, plugins);
builder.Services.AddMasterBus(options, options.EmbeddedWorkers > 0 ? workerOptions : null);
builder.Services.AddGrpc(o =>
{
    o.Interceptors.Add<TokenAuthInterceptor>();
    o.MaxReceiveMessageSize = options.MaxRequestBytes;
}).AddJsonTranscoding();
builder.Services.AddGrpcReflection();
builder.Services.AddTelemetry(builder.Configuration, "distexec-master");
var health = builder.Services.AddGrpcHealthChecks().AddCheck<StoreHealthCheck>("store");
if (isolation is not null)
{
    health.AddTaskIsolationCheck(isolation);
}
builder.Services.AddSingleton<TokenAuthorizer>();
builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxRequestBytes);
builder.WebHost.ListenGrpc(ListenAddress.Parse(options.MasterAddress), options.Tls);
builder.WebHost.ListenHttp(options.HttpAddress, options.Tls);

var app = builder.Build();
if (isolation is not null)
{
    app.Services.LogTaskIsolation(isolation);
}
if (!app.Services.ExecutorsLoad("master"))
{
    return 2;
}

app.UseMiddleware<RequestGateMiddleware>();
app.UseMiddleware<MalformedRequestMiddleware>();
app.MapGrpcService<JobService>();
app.MapGrpcService<WorkerControlService>();
app.MapGrpcHealthChecksService();
app.MapGrpcReflectionService();
app.MapOperationalEndpoints(options.HttpAddress);
app.MapDashboard(options.HttpAddress);
app.Services.ObserveMasterGauges();
await app.RunAsync();
return 0;
