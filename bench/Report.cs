using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DistributedExecutor.Bench;

/// <summary>One measured figure, its baseline from the same run, their ratio and the target it must meet.</summary>
internal sealed record Figure(
    string Id,
    string Name,
    double Value,
    string Unit,
    string? Baseline,
    double? BaselineValue,
    double? Ratio,
    string Target,
    bool Met);

/// <summary>Collects figures and correctness checks, prints the table and writes the JSON.</summary>
internal sealed class Report(BenchSettings settings)
{
    private readonly List<Figure> _figures = [];
    private readonly List<string> _checks = [];
    private readonly List<string> _failures = [];
    private readonly Dictionary<string, object> _profiles = [];
    private readonly Dictionary<string, IReadOnlyList<double>> _baselines = [];
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;

    /// <summary>Every correctness check passed and every target was met (or the run only reports: BENCH_REPORT_ONLY=1).</summary>
    public bool Passed => _failures.Count == 0 && (settings.ReportOnly || TargetsMet);

    private bool TargetsMet => _figures.All(f => f.Met);

    /// <summary>Every sample of a baseline that was measured more than once.</summary>
    public void Baseline(string id, IReadOnlyList<double> samples) => _baselines[id] = samples;

    /// <summary>A figure with a higher-is-better ratio to its baseline (rates).</summary>
    public void AtLeast(string id, string name, double value, string unit, string baseline, double baselineValue, double minRatio)
    {
        var ratio = value / baselineValue;
        Add(new Figure(id, name, value, unit, baseline, baselineValue, ratio, $">= {minRatio:0.0#}x baseline", ratio >= minRatio));
    }

    /// <summary>A figure with a lower-is-better ratio to its baseline (times).</summary>
    public void AtMostRatio(string id, string name, double value, string unit, string baseline, double baselineValue, double maxRatio)
    {
        var ratio = value / baselineValue;
        Add(new Figure(id, name, value, unit, baseline, baselineValue, ratio, $"<= {maxRatio:0.0#}x baseline", ratio <= maxRatio));
    }

    /// <summary>A figure with an absolute bound, shown next to a baseline for scale.</summary>
    public void AtMost(string id, string name, double value, string unit, double max, string? baseline = null, double? baselineValue = null)
    {
        double? ratio = baselineValue is { } b && b > 0 ? value / b : null;
        Add(new Figure(id, name, value, unit, baseline, baselineValue, ratio, $"<= {Format(max)} {unit}", value <= max));
    }

    /// <summary>A figure reported for context, without a target.</summary>
    public void Info(string id, string name, double value, string unit, string? baseline = null, double? baselineValue = null)
    {
        double? ratio = baselineValue is { } b && b > 0 ? value / b : null;
        Add(new Figure(id, name, value, unit, baseline, baselineValue, ratio, "-", true));
    }

    /// <summary>CPU milliseconds per task by part during a scenario, against the machine's whole budget per task.</summary>
    public void Profile(string id, IReadOnlyDictionary<string, double> perTask, double budget)
    {
        _profiles[id] = new { cpu_ms_per_task = perTask, machine_ms_per_task = budget };
        Progress($"{id}: CPU ms per task: {CpuProfile.Describe(perTask)} (the machine had {budget:0.00} per task)");
    }

    public void Check(string what, bool ok, string detail)
    {
        var line = $"{(ok ? "ok  " : "FAIL")} {what}: {detail}";
        _checks.Add(line);
        Console.WriteLine(line);
        if (!ok)
        {
            _failures.Add($"{what}: {detail}");
        }
    }

    public void Fail(Exception ex)
    {
        _failures.Add($"the benchmark stopped: {ex}");
        Console.Error.WriteLine($"bench: stopped by {ex}");
    }

    public static void Progress(string text) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {text}");

    public void Print(TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"| figure | value | baseline (same run) | ratio | target | met |");
        output.WriteLine($"|---|---|---|---|---|---|");
        foreach (var f in _figures)
        {
            var baseline = f.Baseline is null ? "-" : $"{f.Baseline}: {Format(f.BaselineValue!.Value)}";
            var ratio = f.Ratio is { } r ? $"{r:0.00}x" : "-";
            output.WriteLine($"| {f.Name} | {Format(f.Value)} {f.Unit} | {baseline} | {ratio} | {f.Target} | {(f.Target == "-" ? "-" : f.Met ? "yes" : "**no**")} |");
        }

        output.WriteLine();
        output.WriteLine($"correctness: {_checks.Count - _failures.Count(f => !f.StartsWith("the benchmark", StringComparison.Ordinal))} of {_checks.Count} checks passed");
        foreach (var failure in _failures)
        {
            output.WriteLine($"FAILED {failure}");
        }

        foreach (var (id, profile) in _profiles)
        {
            output.WriteLine($"profile {id}: {System.Text.Json.JsonSerializer.Serialize(profile)}");
        }

        var missed = _figures.Where(f => !f.Met).Select(f => f.Id).ToList();
        var stopped = _failures.Any(f => f.StartsWith("the benchmark stopped", StringComparison.Ordinal));
        output.WriteLine(missed.Count == 0
            ? stopped ? "targets: not all measured (the benchmark stopped)" : !_figures.Any(f => f.Target != "-") ? "targets: none measured" : "targets: all met"
            : $"targets not met: {string.Join(", ", missed)}{(settings.ReportOnly ? " (BENCH_REPORT_ONLY=1: reported, not failed)" : " (a missed target fails the run; BENCH_REPORT_ONLY=1 only reports)")}");
        output.WriteLine($"json: {Path.GetFullPath(settings.JsonPath)}");
    }

    public async Task WriteJsonAsync()
    {
        var document = new
        {
            started_at = _started,
            finished_at = DateTimeOffset.UtcNow,
            machine = new
            {
                processors = Environment.ProcessorCount,
                os = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                runtime = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            },
            settings,
            figures = _figures,
            baselines = _baselines,
            profiles = _profiles,
            checks = _checks,
            failures = _failures,
            targets_met = TargetsMet,
            targets_missed = _figures.Where(f => !f.Met).Select(f => f.Id).ToList(),
            report_only = settings.ReportOnly,
            passed = Passed,
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.JsonPath))!);
        await File.WriteAllTextAsync(settings.JsonPath, JsonSerializer.Serialize(document, new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        }));
    }

    private void Add(Figure figure)
    {
        _figures.Add(figure);
        Progress($"{figure.Name}: {Format(figure.Value)} {figure.Unit}" + (figure.Ratio is { } r ? $" ({r:0.00}x {figure.Baseline})" : ""));
    }

    private static string Format(double value) => value switch
    {
        >= 1000 => value.ToString("#,0", CultureInfo.InvariantCulture),
        >= 10 => value.ToString("0.0", CultureInfo.InvariantCulture),
        _ => value.ToString("0.00", CultureInfo.InvariantCulture),
    };
}
