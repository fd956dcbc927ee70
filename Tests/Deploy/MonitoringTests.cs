using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.RegularExpressions;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.Deploy;

/// <summary>
/// Monitoring in the box: the chart's ServiceMonitor, PodMonitor, alerts and Grafana dashboard render, and every
/// distexec_* series the dashboard and the alerts query is one the programs export (a renamed instrument would
/// otherwise leave an empty panel or an alert that can never fire).
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class MonitoringTests
{
    private const string AllOn = """
        metrics:
          serviceMonitor: { enabled: true }
          podMonitor: { enabled: true }
          prometheusRule: { enabled: true }
          grafanaDashboard: { enabled: true }
        """;

    [Fact]
    public async Task DashboardAndAlerts_QueryOnlySeriesTheProgramsExport()
    {
        var exported = ExportedSeries();
        var documents = await Helm.TemplateAsync(AllOn);
        var rules = documents.Single(d => d.Kind() == "PrometheusRule")
            .Items("spec", "groups").SelectMany(g => g.Items("rules")).Select(r => r.Text("expr")!).ToList();
        var dashboard = documents.Single(d => d.Kind() == "ConfigMap").Text("data", "distributed-executor.json")!;
        using var json = JsonDocument.Parse(dashboard);
        var panels = json.RootElement.GetProperty("panels").EnumerateArray().ToList();
        var queries = panels.SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!).ToList();

        Assert.NotEmpty(rules);
        Assert.True(panels.Count >= 6, $"{panels.Count} panels");
        var used = rules.Concat(queries).SelectMany(q => SeriesName().Matches(q).Select(m => m.Value)).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(used);
        Assert.All(used, name => Assert.True(exported.Contains(name), $"{name} is queried but no program exports it; exported: {string.Join(", ", exported.Order())}"));

        // The dashboard covers what an operator looks at first.
        foreach (var needed in new[] { "distexec_queue_depth", "distexec_tasks_finished_total", "distexec_task_duration_seconds_bucket", "distexec_workers_connected", "distexec_redeliveries_total" })
        {
            Assert.Contains(needed, queries.SelectMany(q => SeriesName().Matches(q).Select(m => m.Value)));
        }
    }

    [Fact]
    public async Task Monitors_ScrapeTheMasterServiceAndEveryWorkerPodOnTheirHttpPort()
    {
        var documents = await Helm.TemplateAsync(AllOn);

        var service = documents.Single(d => d.Kind() == "ServiceMonitor");
        Assert.Equal("master", service.Text("spec", "selector", "matchLabels", "app.kubernetes.io/component"));
        Assert.Equal("http", service.Items("spec", "endpoints").Single().Text("port"));
        var pods = documents.Single(d => d.Kind() == "PodMonitor");
        Assert.Equal("worker", pods.Text("spec", "selector", "matchLabels", "app.kubernetes.io/component"));
        Assert.Equal("http", pods.Items("spec", "podMetricsEndpoints").Single().Text("port"));

        // Off by default: the CRDs may not exist in the cluster.
        var defaults = await Helm.TemplateAsync("");
        Assert.DoesNotContain(defaults, d => d.Kind() is "ServiceMonitor" or "PodMonitor" or "PrometheusRule" or "ConfigMap");
    }

    /// <summary>
    /// The Prometheus names of the instruments master and worker create, by the exporter's rules: dots become
    /// underscores, the unit adds _seconds or _bytes (unless the name ends with it), counters add _total, histograms _bucket, _sum and _count.
    /// (ObservabilityTests scrapes a live master and worker for several of these names.)
    /// </summary>
    private static HashSet<string> ExportedSeries()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name != DistexecMetrics.MeterName)
                {
                    return;
                }

                var name = instrument.Name.Replace('.', '_');
                var unit = instrument.Unit switch
                {
                    "s" => "_seconds",
                    "By" => "_bytes",
                    _ => "",
                };
                name += name.EndsWith(unit, StringComparison.Ordinal) ? "" : unit;
                var type = instrument.GetType().Name;
                if (type.StartsWith("Counter", StringComparison.Ordinal))
                {
                    names.Add(name + "_total");
                }
                else if (type.StartsWith("Histogram", StringComparison.Ordinal))
                {
                    names.UnionWith([name + "_bucket", name + "_sum", name + "_count"]);
                }
                else
                {
                    names.Add(name);
                }
            },
        };
        listener.Start();
        using var metrics = new DistexecMetrics();
        metrics.ObserveQueueDepth(() => []);
        metrics.ObserveTasksRunning(() => []);
        metrics.ObserveWorkersConnected(() => []);
        metrics.ObserveStore(() => 0, () => 0);

        // The rules checked against names a live scrape shows (ObservabilityTests).
        Assert.Contains("distexec_task_duration_seconds_bucket", names);
        Assert.Contains("distexec_output_bytes_total", names);
        Assert.Contains("distexec_queue_depth", names);
        return names;
    }

    [GeneratedRegex("distexec_[a-z_]+")]
    private static partial Regex SeriesName();
}
