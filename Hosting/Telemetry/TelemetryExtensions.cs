using DistributedExecutor.Hosting.Settings;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace DistributedExecutor.Hosting.Telemetry;

/// <summary>
/// OpenTelemetry for master and worker: metrics always (scraped at /metrics), traces and OTLP export only when
/// the standard OTEL_* variables ask for them, so an unobserved system pays nothing for spans.
/// </summary>
internal static class TelemetryExtensions
{
    public static IServiceCollection AddTelemetry(this IServiceCollection services, IConfiguration configuration, string serviceName)
    {
        services.TryAddSingleton<DistexecMetrics>();
        var otlp = OtlpSettings.From(configuration);
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : serviceName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(DistexecMetrics.MeterName, "MassTransit")
                    .AddAspNetCoreInstrumentation()
                    .AddPrometheusExporter();
                if (otlp.Metrics)
                {
                    metrics.AddOtlpExporter();
                }
            });
        if (otlp.Traces)
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(Tracing.SourceName, "MassTransit")
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !IsOperational(http.Request.Path))
                .AddOtlpExporter());
        }

        return services;
    }

    /// <summary>/healthz (the process answers), /readyz (every health check: broker, store) and /metrics, on the HTTP port only.</summary>
    public static void MapOperationalEndpoints(this WebApplication app, ListenAddress? http)
    {
        if (http is null)
        {
            return;
        }

        var host = $"*:{http.Port}";
        app.MapGet("/healthz", () => Results.Text("ok\n")).RequireHost(host);
        app.MapHealthChecks("/readyz", new HealthCheckOptions
        {
            ResponseWriter = async (context, report) =>
            {
                context.Response.ContentType = "text/plain; charset=utf-8";
                foreach (var (name, entry) in report.Entries.OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    await context.Response.WriteAsync($"{name}: {entry.Status}{(entry.Description is { Length: > 0 } d ? $" ({d})" : "")}\n");
                }

                await context.Response.WriteAsync($"overall: {report.Status}\n");
            },
        }).RequireHost(host);
        app.MapPrometheusScrapingEndpoint("/metrics").RequireHost(host);
    }

    private static bool IsOperational(PathString path) =>
        path.StartsWithSegments("/metrics") || path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz");

    /// <summary>What the OTEL_* variables ask for: an OTLP endpoint set, the SDK not disabled, the signal's exporter not "none".</summary>
    private sealed record OtlpSettings(bool Traces, bool Metrics)
    {
        public static OtlpSettings From(IConfiguration configuration)
        {
            if (string.Equals(configuration["OTEL_SDK_DISABLED"], "true", StringComparison.OrdinalIgnoreCase))
            {
                return new OtlpSettings(false, false);
            }

            var endpoint = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
            bool Wants(string signal) =>
                configuration[$"OTEL_{signal}_EXPORTER"] is { Length: > 0 } exporter
                    ? exporter.Split(',').Any(e => e.Trim().Equals("otlp", StringComparison.OrdinalIgnoreCase))
                    : endpoint || !string.IsNullOrWhiteSpace(configuration[$"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"]);
            return new OtlpSettings(Wants("TRACES"), Wants("METRICS"));
        }
    }
}
