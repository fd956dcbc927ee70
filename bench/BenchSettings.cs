namespace DistributedExecutor.Bench;

/// <summary>Sizes of each scenario (the issue's by default; smaller for a quick look) and where the JSON goes.</summary>
internal sealed record BenchSettings(
    int Jobs,
    int BatchTasks,
    int InFlight,
    int LatencyJobs,
    int CliRuns,
    int Backlog,
    int Workers,
    int WorkerConcurrency,
    int RegistryWorkers,
    int RegistrySeconds,
    bool ReportOnly,
    IReadOnlySet<string> Scenarios,
    string JsonPath)
{
    /// <summary>The scenario names BENCH_SCENARIOS may list (comma-separated; default all).</summary>
    public static readonly string[] AllScenarios = ["many", "batch", "latency", "cli", "postgres", "pipeline", "registry", "backlog"];

    public bool Runs(string scenario) => Scenarios.Contains(scenario);

    public int TotalConcurrency => Workers * WorkerConcurrency;

    public static BenchSettings FromEnvironment() => new(
        Jobs: Int("BENCH_JOBS", 5000),
        BatchTasks: Int("BENCH_BATCH_TASKS", 5000),
        InFlight: Int("BENCH_IN_FLIGHT", 64),
        LatencyJobs: Int("BENCH_LATENCY_JOBS", 300),
        CliRuns: Int("BENCH_CLI_RUNS", 20),
        Backlog: Int("BENCH_BACKLOG", 100_000),
        Workers: Int("BENCH_WORKERS", 2),
        // The worker's own default MAX_CONCURRENT_TASKS.
        WorkerConcurrency: Int("BENCH_WORKER_CONCURRENCY", 10),
        RegistryWorkers: Int("BENCH_REGISTRY_WORKERS", 1000),
        RegistrySeconds: Int("BENCH_REGISTRY_SECONDS", 60),
        // A missed target fails the run unless this says the run only reports.
        ReportOnly: Environment.GetEnvironmentVariable("BENCH_REPORT_ONLY") is "1" or "true",
        Scenarios: ScenarioList(Environment.GetEnvironmentVariable("BENCH_SCENARIOS")),
        JsonPath: Environment.GetEnvironmentVariable("BENCH_JSON") is { Length: > 0 } path ? path : "artifacts/bench/bench.json");

    private static HashSet<string> ScenarioList(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return [.. AllScenarios];
        }

        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var unknown = names.Except(AllScenarios).ToList();
        return unknown.Count == 0
            ? names
            : throw new ArgumentException($"BENCH_SCENARIOS: unknown {string.Join(", ", unknown)}; known: {string.Join(", ", AllScenarios)}");
    }

    private static int Int(string name, int fallback)
    {
        var text = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        return int.TryParse(text, out var value) && value > 0
            ? value
            : throw new ArgumentException($"{name}={text} is not a positive whole number");
    }
}
