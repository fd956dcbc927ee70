namespace DistributedExecutor.Bench;

/// <summary>Sizes of each scenario (the by default; smaller for a quick look) and where the JSON goes.</summary>
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
    string JsonPath)
{
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
        JsonPath: Environment.GetEnvironmentVariable("BENCH_JSON") is { Length: > 0 } path ? path : "artifacts/bench/bench.json");

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
