using DistributedExecutor.Executors;
using DistributedExecutor.Executors.Isolation;
using DistributedExecutor.Executors.Plugins;
using DistributedExecutor.Hosting;
using DistributedExecutor.Hosting.Health;
using DistributedExecutor.Hosting.Settings;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Master.Dashboard;
using DistributedExecutor.Master.Extensions;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Master.Services;

namespace DistributedExecutor.Master;

/// <summary>
/// The master process, as a table of contents. <c>Program</c> runs it alone; the development host runs it with
/// workers inside (<see cref="IEmbeddedWorkers"/>), so the master itself never knows a worker.
/// </summary>
internal static class MasterHost
{
    public static async Task<int> RunAsync(string[] args, IEmbeddedWorkers? embedded)
    {
        // First, before anything else runs: this process again, with the runtime's tiering delay off (RuntimeTuning).
        RuntimeTuning.StartWithoutTieringDelay();

        // Before anything secret is read: no other process (a task included) may read this one's memory or environment.
        ProcessPrivileges.MakeNonDumpable();
        var builder = WebApplication.CreateSlimBuilder(args);
        var settings = new SettingsReader(builder.Configuration);
        var options = MasterOptions.Load(settings);
        var executorOptions = ExecutorOptions.Load(settings);
        var plugins = PluginCatalog.Load(executorOptions.PluginsDirectory);
        foreach (var problem in plugins.Problems)
        {
            settings.Fail(problem);
        }

        if (options.EmbeddedWorkers > 0 && embedded is null)
        {
            settings.Fail($"EMBEDDED_WORKERS={options.EmbeddedWorkers}: this master runs no workers; use the development host (bin/master from make build)");
        }

        if (Failed(settings))
        {
            return 2;
        }

        if (options.EmbeddedWorkers == 0)
        {
            options.RabbitMqUrl ??= new Uri("amqp://guest:guest@localhost:5672/");
            embedded = null;
        }

        if (embedded is not null && (!embedded.Add(builder, options, executorOptions, plugins, settings) || Failed(settings)))
        {
            return 2;
        }

        builder.AddLogging(options.LogLevel, options.JsonLogs);
        builder.Services.AddJobs(options, executorOptions, plugins);
        builder.Services.AddMasterBus(options, embedded);
        builder.Services.AddSingleton<TokenAuthorizer>();
        builder.Services.AddGrpc(o =>
        {
            o.Interceptors.Add<TokenAuthInterceptor>();
            o.Interceptors.Add<StoreFullInterceptor>();
            o.MaxReceiveMessageSize = options.MaxRequestBytes;
        }).AddJsonTranscoding();
        builder.Services.AddGrpcReflection();
        builder.Services.AddTelemetry(builder.Configuration, "distexec-master");
        builder.Services.AddProbes().AddCheck<StoreHealthCheck>("store");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxRequestBytes);
        builder.WebHost.ListenGrpc(ListenAddress.Parse(options.MasterAddress), options.Tls);
        builder.WebHost.ListenHttp(options.HttpAddress, options.Tls);

        var app = builder.Build();
        try
        {
            // Opened now, so a store this master cannot read stops start-up with one line.
            _ = app.Services.GetRequiredService<IJobStore>();
        }
        catch (Exception ex) when (ex is StoreVersionException or StoreUnavailableException)
        {
            Console.Error.WriteLine($"master: {ex.Message}");
            return 2;
        }

        embedded?.Started(app.Services);
        if (!app.Services.ExecutorsLoad("master"))
        {
            return 2;
        }

        var version = ProgramVersion.Of(typeof(MasterHost).Assembly);
        app.Use((context, next) =>
        {
            context.Response.Headers[ProgramVersion.Header] = version;
            return next(context);
        });
        app.UseMiddleware<RequestGateMiddleware>();
        app.UseMiddleware<MalformedRequestMiddleware>();
        app.MapGrpcService<JobService>();
        app.MapGrpcService<WorkerControlService>();
        app.MapGrpcService<ScheduleService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        app.MapOperationalEndpoints(options.HttpAddress);
        app.MapDashboard(options.HttpAddress);
        app.Services.ObserveMasterGauges();
        await app.RunAsync().ConfigureAwait(false);
        return 0;
    }

    private static bool Failed(SettingsReader settings)
    {
        foreach (var error in settings.Errors)
        {
            Console.Error.WriteLine($"master: {error}");
        }

        return settings.Errors.Count > 0;
    }
}
