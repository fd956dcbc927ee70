using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace DistributedExecutor.Cli;

/// <summary>
/// The root span of a distctl command, exported over OTLP when the standard variables ask for it
/// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_TRACES_EXPORTER=otlp; OTEL_SDK_DISABLED=true turns it off). The gRPC
/// calls made inside carry its context (W3C traceparent) to the master.
/// </summary>
internal sealed class CliTracing : IDisposable
{
    private static readonly ActivitySource Source = new("distctl");
    private static readonly HashSet<string> Verbs = ["run", "status", "logs", "cancel", "list", "workers"];
    private readonly TracerProvider _provider;
    private readonly Activity? _root;

    private CliTracing(TracerProvider provider, string[] args)
    {
        _provider = provider;
        var verb = args.FirstOrDefault(a => Verbs.Contains(a)) ?? "";
        _root = Source.StartActivity($"distctl {verb}".TrimEnd(), ActivityKind.Client);
    }

    public static CliTracing? Start(string[] args)
    {
        string? Setting(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
        if (string.Equals(Setting("OTEL_SDK_DISABLED"), "true", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var wanted = Setting("OTEL_TRACES_EXPORTER") is { } exporter
            ? exporter.Split(',').Any(e => e.Trim().Equals("otlp", StringComparison.OrdinalIgnoreCase))
            : Setting("OTEL_EXPORTER_OTLP_ENDPOINT") is not null || Setting("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") is not null;
        if (!wanted)
        {
            return null;
        }

        var provider = Sdk.CreateTracerProviderBuilder()
            .ConfigureResource(r => r.AddService(Setting("OTEL_SERVICE_NAME") ?? "distctl"))
            .AddSource(Source.Name)
            .AddOtlpExporter()
            .Build();
        return new CliTracing(provider, args);
    }

    public void Dispose()
    {
        _root?.Dispose();
        _provider.ForceFlush(5000);
        _provider.Dispose();
    }
}
