using System.Diagnostics;
using System.Text;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Grpc.Core;

namespace DistributedExecutor.Bench;

/// <summary>
/// The measurements of the benchmark, each with its baseline taken in this same run: a private RabbitMQ, bin/master
/// and two bin/worker processes on this machine, driven by one warm gRPC client; the bus alone and synthetic workers
/// for what the broker, MassTransit and the master cost without processes; simulated workers for the registry.
/// </summary>
internal static class Scenarios
{
    public static async Task RunAllAsync(BenchSettings settings, Report report)
    {
        var empty = Baselines.EmptyProgramPath();
        Report.Progress("starting a private RabbitMQ");
        var broker = await RabbitMqBroker.StartPrivateAsync();
        var xargs = new XargsBaseline(Math.Min(settings.Jobs, 2000), settings.TotalConcurrency, report);
        try
        {
            await xargs.SampleAsync("before the bus baseline");
            var bus = await BusBaselineAsync(broker, settings, report);
            await xargs.SampleAsync("after the bus baseline");

            double? manyRate = null, batchRate = null;
            if (settings.Runs("many") || settings.Runs("batch") || settings.Runs("latency") || settings.Runs("cli"))
            {
                await using var cluster = await Cluster.StartAsync(settings.Workers, WorkerSettings(settings), broker: broker);
                await WarmUpAsync(cluster);
                if (settings.Runs("many"))
                {
                    manyRate = await ManyJobsAsync(cluster, settings, report, bus);
                    await xargs.SampleAsync("after (1)");
                }

                if (settings.Runs("batch"))
                {
                    batchRate = await OneBatchAsync(cluster, settings, report, bus);
                    await xargs.SampleAsync("after (2)");
                }

                if (settings.Runs("latency"))
                {
                    await LatencyAsync(cluster, settings, report);
                }

                if (settings.Runs("cli"))
                {
                    await CliAsync(cluster, settings, report, empty);
                }
            }

            if (settings.Runs("postgres"))
            {
                await PostgresAsync(broker, settings, report, manyRate);
                await xargs.SampleAsync("after (8)");
            }

            if (settings.Runs("pipeline"))
            {
                await PipelineAsync(broker, settings, report, bus);
                await xargs.SampleAsync("after (6)");
            }

            if (manyRate is { } many)
            {
                report.AtLeast("many_jobs", $"(1) {settings.Jobs} single-task jobs", many, "tasks/s", xargs.Describe(), xargs.Median, 0.5);
            }

            if (batchRate is { } batch)
            {
                report.AtLeast("one_batch", $"(2) one job of {settings.BatchTasks} tasks", batch, "tasks/s", xargs.Describe(), xargs.Median, 0.6);
            }

            report.Baseline("xargs", xargs.Samples);
            if (settings.Runs("registry"))
            {
                await RegistryAsync(broker, settings, report);
            }

            if (settings.Runs("backlog"))
            {
                await BacklogAsync(broker, settings, report);
            }
        }
        finally
        {
            await broker.DisposeAsync();
        }
    }

    /// <summary>The bus alone, at the workers' concurrency: round trips per second and CPU per round trip (client + responder + broker).</summary>
    private static async Task<BusFigures> BusBaselineAsync(RabbitMqBroker broker, BenchSettings settings, Report report)
    {
        Report.Progress($"bus baseline: {settings.Jobs} request/event round trips, {settings.TotalConcurrency} in flight");
        var cpu = CpuProfile.Start(new BenchProcesses(null, [], broker.ServerPid));
        var rate = await BusBench.BusBaselineAsync(broker.Url, settings.Jobs, settings.TotalConcurrency, settings.TotalConcurrency);
        var perTrip = cpu.PerTask(settings.Jobs + Math.Min(1000, settings.Jobs));
        var cpuPerTrip = perTrip.GetValueOrDefault("client") + perTrip.GetValueOrDefault("broker");
        report.Info("bus_baseline", "bus baseline: MassTransit request + event round trips (quorum queues, confirms)", rate, "round trips/s");
        report.Info("bus_baseline_cpu", "bus baseline: CPU per round trip (client, responder, broker)", cpuPerTrip, "ms");
        report.Profile("bus_baseline", perTrip, 0);
        return new BusFigures(rate, cpuPerTrip);
    }

    private static Dictionary<string, string> WorkerSettings(BenchSettings settings) => new()
    {
        ["MAX_CONCURRENT_TASKS"] = settings.WorkerConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["MAX_CONCURRENT_JOBS"] = "1000000",
    };

    private static BenchProcesses Processes(Cluster cluster) =>
        new(cluster.Master?.Pid, [.. cluster.Workers.Select(w => w.Pid)], cluster.Broker.ServerPid);

    private static readonly int WarmUpJobs = int.TryParse(Environment.GetEnvironmentVariable("BENCH_WARMUP_JOBS"), out var n) && n > 0 ? n : 1000;

    private static async Task WarmUpAsync(Cluster cluster)
    {
        Report.Progress($"warming up ({WarmUpJobs} jobs)");
        await ForEachAsync(WarmUpJobs, 32, async i => await RunJobAsync(cluster.Jobs, i));
    }

    /// <summary>(1) Single-task jobs, at most InFlight at once, each submitted, followed to its end and its output read back.</summary>
    private static async Task<double> ManyJobsAsync(Cluster cluster, BenchSettings settings, Report report, BusFigures bus)
    {
        Report.Progress($"(1) {settings.Jobs} single-task jobs, {settings.InFlight} in flight");
        var (rate, wrong, redelivered, perTask) = await RunManyJobsAsync(cluster, settings);
        report.Check("(1) every job succeeded with its own output exactly once", wrong == 0, $"{settings.Jobs - wrong} of {settings.Jobs} right");
        var stored = CountStored(cluster, $"SELECT COUNT(*) FROM jobs WHERE state = {(int)TaskState.Succeeded}");
        report.Check("(1) stored jobs", stored == WarmUpJobs + settings.Jobs, $"{stored} recorded Succeeded, warm-up {WarmUpJobs} + {settings.Jobs} submitted");
        report.Info("many_jobs_redelivered", "(1) jobs with more than one attempt", redelivered, "jobs");
        report.Profile("many_jobs", perTask, Environment.ProcessorCount * 1000 / rate);
        CpuTargets(report, "many_jobs", "(1)", perTask, bus);
        return rate;
    }

    /// <param name="processes">Whose CPU counts (default: the cluster's master, workers and broker).</param>
    /// <param name="client">Which master job i goes to (default: the cluster's).</param>
    private static async Task<(double Rate, int Wrong, int Redelivered, IReadOnlyDictionary<string, double> PerTask)> RunManyJobsAsync(Cluster cluster, BenchSettings settings,
        BenchProcesses? processes = null, Func<int, JobService.JobServiceClient>? client = null)
    {
        var wrong = 0;
        var redelivered = 0;
        var cpu = CpuProfile.Start(processes ?? Processes(cluster));
        var clock = Stopwatch.StartNew();
        await ForEachAsync(settings.Jobs, settings.InFlight, async i =>
        {
            var (job, output) = await RunJobAsync(client?.Invoke(i) ?? cluster.Jobs, i);
            if (job.State != TaskState.Succeeded || output != $"{i}\n")
            {
                Interlocked.Increment(ref wrong);
            }

            if (job.Tasks[0].Attempts.Count != 1)
            {
                Interlocked.Increment(ref redelivered);
            }
        });
        clock.Stop();
        return (settings.Jobs / clock.Elapsed.TotalSeconds, wrong, redelivered, cpu.PerTask(settings.Jobs));
    }

    /// <summary>
    /// (8) (1) again with the store in PostgreSQL: one master, then two on the same database with every other job
    /// submitted to the second (as a Service spreads clients); throughput and CPU per task by part (the database's
    /// server too), next to SQLite's (1) from this same run. Each run has a database of its own.
    /// </summary>
    private static async Task PostgresAsync(RabbitMqBroker broker, BenchSettings settings, Report report, double? sqliteRate)
    {
        Report.Progress("starting a private PostgreSQL");
        var postgres = await PostgresServer.Shared;
        foreach (var masters in (int[])[1, 2])
        {
            Report.Progress($"(8) {settings.Jobs} single-task jobs on PostgreSQL, {masters} master(s), {settings.InFlight} in flight");
            var environment = WorkerSettings(settings);
            environment["MASTER_DB_URL"] = await postgres.NewDatabaseUrlAsync();
            await using var cluster = await Cluster.StartAsync(settings.Workers, environment, broker: broker);
            await using var other = masters == 2 ? await cluster.StartAnotherMasterAsync() : null;
            await WarmUpAsync(cluster);
            var processes = Processes(cluster) with { OtherMasters = other is null ? null : [other.Process.Pid], Database = postgres.ServerPid };
            var (rate, wrong, _, perTask) = await RunManyJobsAsync(cluster, settings, processes, other is null ? null : i => i % 2 == 0 ? cluster.Jobs : other.Jobs);
            var id = masters == 1 ? "postgres_one_master" : "postgres_two_masters";
            report.Check($"(8) {masters} master(s) on PostgreSQL: every job succeeded with its own output exactly once", wrong == 0, $"{settings.Jobs - wrong} of {settings.Jobs} right");
            var stored = CountStored(cluster, $"SELECT COUNT(*) FROM jobs WHERE state = {(int)TaskState.Succeeded}");
            report.Check($"(8) {masters} master(s) on PostgreSQL: stored jobs", stored == WarmUpJobs + settings.Jobs, $"{stored} recorded Succeeded, warm-up {WarmUpJobs} + {settings.Jobs} submitted");
            report.Info(id, $"(8) {settings.Jobs} single-task jobs, PostgreSQL store, {masters} master(s)", rate, "tasks/s",
                sqliteRate is null ? null : "(1) with SQLite, this run", sqliteRate);
            report.Profile(id, perTask, Environment.ProcessorCount * 1000 / rate);
        }
    }

    /// <summary>
    /// The CPU targets: the system's own work per task (master, workers, broker) against the task process's own, and
    /// against the bus baseline's cost of one round trip (a task needs at least its two messages).
    /// </summary>
    private static void CpuTargets(Report report, string id, string scenario, IReadOnlyDictionary<string, double> perTask, BusFigures bus)
    {
        var task = perTask.GetValueOrDefault("task processes");
        var master = perTask.GetValueOrDefault("master");
        var system = master + perTask.GetValueOrDefault("workers") + perTask.GetValueOrDefault("broker");
        report.AtMostRatio($"{id}_cpu_system", $"{scenario} CPU per task: master + workers + broker", system, "ms", "the task process's own", task, 1.5);
        report.AtMostRatio($"{id}_cpu_master", $"{scenario} CPU per task: master", master, "ms", "the task process's own", task, 0.5);
        report.AtMostRatio($"{id}_cpu_vs_bus", $"{scenario} CPU per task: master + workers + broker", system, "ms", "bus baseline per round trip", bus.CpuPerRoundTrip, 2);
    }

    /// <summary>(2) One job of BatchTasks tasks, followed to its end with every task's output read back.</summary>
    private static async Task<double> OneBatchAsync(Cluster cluster, BenchSettings settings, Report report, BusFigures bus)
    {
        Report.Progress($"(2) one job of {settings.BatchTasks} tasks");
        var spec = new JobSpec();
        for (var i = 0; i < settings.BatchTasks; i++)
        {
            spec.Tasks.Add(Echo(i));
        }

        var cpu = CpuProfile.Start(Processes(cluster));
        var clock = Stopwatch.StartNew();
        var submitted = await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec });
        var submitSeconds = clock.Elapsed.TotalSeconds;
        var outputs = new StringBuilder[settings.BatchTasks];
        var (job, _) = await FollowAsync(cluster.Jobs, submitted.Job.Id, chunk =>
        {
            (outputs[chunk.TaskIndex] ??= new StringBuilder()).Append(chunk.Data.ToStringUtf8());
        });
        clock.Stop();
        var wrong = Enumerable.Range(0, settings.BatchTasks).Count(i => outputs[i]?.ToString() != $"{i}\n");
        report.Check("(2) the batch succeeded, every task's output right and exactly once", job.State == TaskState.Succeeded && wrong == 0,
            $"job {job.State}, {settings.BatchTasks - wrong} of {settings.BatchTasks} outputs right");
        var rate = settings.BatchTasks / clock.Elapsed.TotalSeconds;
        report.AtMostRatio("one_batch_submit", "(2) SubmitJob of the batch", submitSeconds * 1000, "ms", "the batch's whole run", clock.Elapsed.TotalMilliseconds, 0.1);
        var perTask = cpu.PerTask(settings.BatchTasks);
        report.Profile("one_batch", perTask, clock.Elapsed.TotalSeconds * Environment.ProcessorCount * 1000 / settings.BatchTasks);
        CpuTargets(report, "one_batch", "(2)", perTask, bus);
        return rate;
    }

    /// <summary>(6) The master fed by synthetic workers (no processes): what one master can feed, against the bus alone.</summary>
    private static async Task PipelineAsync(RabbitMqBroker broker, BenchSettings settings, Report report, BusFigures bus)
    {
        Report.Progress($"(6) pipeline ceiling: {settings.Jobs} single-task jobs through synthetic workers");
        await using var cluster = await Cluster.StartAsync(0, WorkerSettings(settings), broker: broker);
        await using (await BusBench.StartSyntheticWorkersAsync(cluster.BrokerUrl, "default", settings.TotalConcurrency, new DistributedExecutor.Master.Options.MasterOptions().DeliveryLimit))
        {
            await WarmUpAsync(cluster);
            var (rate, wrong, _, perTask) = await RunManyJobsAsync(cluster, settings);
            report.Check("(6) every job through the synthetic workers right", wrong == 0, $"{settings.Jobs - wrong} of {settings.Jobs} right");
            report.AtLeast("pipeline", $"(6) pipeline ceiling: {settings.Jobs} single-task jobs, synthetic workers", rate, "tasks/s", "bus baseline round trips/s", bus.RoundTripsPerSecond, 1.0);
            report.Info("pipeline_master_cpu", "(6) pipeline: master CPU per task", perTask.GetValueOrDefault("master"), "ms", "bus baseline per round trip", bus.CpuPerRoundTrip);
            report.Profile("pipeline", perTask, Environment.ProcessorCount * 1000 / rate);
        }
    }

    /// <summary>(7) Simulated workers registering and heartbeating: the master's CPU share and ListWorkers' first page.</summary>
    private static async Task RegistryAsync(RabbitMqBroker broker, BenchSettings settings, Report report)
    {
        Report.Progress($"(7) registry: {settings.RegistryWorkers} simulated workers heartbeating for {settings.RegistrySeconds} s");
        await using var cluster = await Cluster.StartAsync(0, broker: broker);
        var (share, listMs, alive) = await RegistryLoad.RunAsync(cluster, settings.RegistryWorkers, TimeSpan.FromSeconds(settings.RegistrySeconds));
        report.Check("(7) ListWorkers' first page shows live simulated workers", alive == Math.Min(100, settings.RegistryWorkers), $"{alive} alive on the first page");
        report.AtMost("registry", $"(7) master CPU with {settings.RegistryWorkers} workers heartbeating", share * 100, "% of one core", 5);
        report.AtMost("registry_list", $"(7) ListWorkers first page at {settings.RegistryWorkers} workers", listMs, "ms", 50);
    }

    /// <summary>The bus baseline's figures the other scenarios are held to.</summary>
    private sealed record BusFigures(double RoundTripsPerSecond, double CpuPerRoundTrip);

    /// <summary>(3) Sequential single-task jobs: submit to finished.</summary>
    private static async Task LatencyAsync(Cluster cluster, BenchSettings settings, Report report)
    {
        Report.Progress($"(3) {settings.LatencyJobs} sequential jobs");
        var spawn = await Baselines.SpawnEchoMillisecondsAsync(settings.LatencyJobs);
        var samples = new List<double>(settings.LatencyJobs);
        var segments = new Dictionary<string, List<double>>
        {
            ["accepted -> worker started"] = [],
            ["worker started -> worker finished"] = [],
            ["worker finished -> job finished"] = [],
        };
        var wrong = 0;
        var cpu = CpuProfile.Start(Processes(cluster));
        for (var i = 0; i < settings.LatencyJobs; i++)
        {
            var clock = Stopwatch.StartNew();
            var (job, output) = await RunJobAsync(cluster.Jobs, i);
            samples.Add(clock.Elapsed.TotalMilliseconds);

            // Where the time went, from the record's own timestamps (milliseconds; master and workers share this clock).
            var task = job.Tasks[0];
            segments["accepted -> worker started"].Add((task.StartedAt.ToDateTimeOffset() - job.CreatedAt.ToDateTimeOffset()).TotalMilliseconds);
            segments["worker started -> worker finished"].Add((task.FinishedAt.ToDateTimeOffset() - task.StartedAt.ToDateTimeOffset()).TotalMilliseconds);
            segments["worker finished -> job finished"].Add((job.FinishedAt.ToDateTimeOffset() - task.FinishedAt.ToDateTimeOffset()).TotalMilliseconds);
            if (job.State != TaskState.Succeeded || output != $"{i}\n")
            {
                wrong++;
            }
        }

        foreach (var (segment, values) in segments)
        {
            report.Info($"latency_{segment.Replace(" -> ", "_to_").Replace(' ', '_')}", $"(3) p50 {segment}", Percentile(values, 50), "ms");
        }

        report.Profile("latency", cpu.PerTask(settings.LatencyJobs), 0);
        report.Check("(3) every sequential job right", wrong == 0, $"{settings.LatencyJobs - wrong} of {settings.LatencyJobs} right");
        var (spawn50, spawn99) = (Percentile(spawn, 50), Percentile(spawn, 99));
        report.AtMost("latency_p50", "(3) submit to finished, p50", Percentile(samples, 50), "ms", spawn50 + 2, "local spawn of echo p50", spawn50);
        report.AtMost("latency_p99", "(3) submit to finished, p99", Percentile(samples, 99), "ms", spawn99 + 5, "local spawn of echo p99", spawn99);
    }

    /// <summary>(4) distctl run --wait -- echo hi, median wall time, against an empty .NET console program.</summary>
    private static async Task CliAsync(Cluster cluster, BenchSettings settings, Report report, string empty)
    {
        Report.Progress($"(4) distctl run --wait -- echo hi, {settings.CliRuns} times");
        var environment = new Dictionary<string, string?> { ["MASTER_ADDRESS"] = cluster.MasterAddress, ["DISTEXEC_TOKEN"] = null, ["DISTEXEC_TOKEN_FILE"] = null };
        var distctl = RepoPaths.Bin("distctl");
        var wrong = 0;
        var cli = await Baselines.WallTimesAsync(settings.CliRuns, distctl, ["run", "--wait", "--", "echo", "hi"], environment, result =>
        {
            if (result.ExitCode != 0 || result.Stdout != "hi\n")
            {
                wrong++;
            }
        });
        var baseline = await Baselines.WallTimesAsync(settings.CliRuns, empty, [], null, _ => { });
        report.Check("(4) distctl printed hi and exited 0 every time", wrong == 0, $"{settings.CliRuns - wrong} of {settings.CliRuns}");
        report.AtMostRatio("cli", "(4) distctl run --wait -- echo hi, median", Percentile(cli, 50), "ms", "empty .NET program", Percentile(baseline, 50), 2);
    }

    /// <summary>(5) Backlog tasks queued with no worker: master memory per queued task and ListJobs' first page.</summary>
    private static async Task BacklogAsync(RabbitMqBroker broker, BenchSettings settings, Report report)
    {
        Report.Progress($"(5) backlog of {settings.Backlog} queued single-task jobs, no workers");
        await using var cluster = await Cluster.StartAsync(0, new Dictionary<string, string> { ["MAX_CONCURRENT_JOBS"] = "10000000" }, broker: broker);
        const int small = 100;
        await ForEachAsync(small, 16, async i => await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = new JobSpec { Tasks = { Echo(i) } } }));
        var firstPageSmall = await FirstPageMillisecondsAsync(cluster);
        var rssSmall = Baselines.ResidentBytes(cluster.Master!.Pid);

        var cpu = CpuProfile.Start(Processes(cluster));
        var clock = Stopwatch.StartNew();
        var rest = settings.Backlog - small;
        await ForEachAsync(rest, settings.InFlight, async i =>
            await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = new JobSpec { Tasks = { Echo(small + i) } } }));
        var submitRate = rest / clock.Elapsed.TotalSeconds;
        report.Profile("backlog", cpu.PerTask(rest), Environment.ProcessorCount * 1000 / submitRate);
        var firstPageLarge = await FirstPageMillisecondsAsync(cluster);
        var rssLarge = Baselines.ResidentBytes(cluster.Master!.Pid);

        var queued = await RabbitMqBroker.MessageCountAsync(cluster.BrokerUrl, QueueNames.Tasks("default"));
        var stored = CountStored(cluster, $"SELECT COUNT(*) FROM tasks WHERE state = {(int)TaskState.Queued}");
        report.Check("(5) every submitted task is in the queue and in the store", queued == settings.Backlog && stored == settings.Backlog,
            $"queue holds {queued}, store holds {stored} queued, submitted {settings.Backlog}");
        var perTask = Math.Max(0, rssLarge - rssSmall) / (double)rest;
        report.AtMost("backlog_memory", $"(5) master memory per queued task ({settings.Backlog:#,0} queued)", perTask, "bytes", 1024);
        report.Info("backlog_rss", "(5) master resident memory at the full backlog", rssLarge / 1048576.0, "MiB", $"at {small} jobs", rssSmall / 1048576.0);
        report.AtMostRatio("backlog_list", $"(5) ListJobs first page at {settings.Backlog:#,0} jobs", firstPageLarge, "ms", $"same call at {small} jobs", firstPageSmall, 2);
        report.Info("backlog_submit", "(5) submission rate while filling the backlog", submitRate, "jobs/s");
    }

    private static async Task<double> FirstPageMillisecondsAsync(Cluster cluster)
    {
        for (var i = 0; i < 5; i++)
        {
            await cluster.Jobs.ListJobsAsync(new ListJobsRequest());
        }

        var samples = new List<double>();
        for (var i = 0; i < 30; i++)
        {
            var clock = Stopwatch.StartNew();
            var page = await cluster.Jobs.ListJobsAsync(new ListJobsRequest());
            samples.Add(clock.Elapsed.TotalMilliseconds);
            if (page.Jobs.Count == 0)
            {
                throw new InvalidOperationException("ListJobs returned an empty first page");
            }
        }

        return Percentile(samples, 50);
    }

    private static long CountStored(Cluster cluster, string sql) => (long)cluster.StoreScalar(sql)!;

    private static TaskSpec Echo(int i) => new()
    {
        Command = new CommandSpec { Program = "echo", Args = { i.ToString(System.Globalization.CultureInfo.InvariantCulture) } },
    };

    /// <summary>Submits one echo job and follows it to its end, returning the final record and its stdout.</summary>
    private static async Task<(Job Job, string Stdout)> RunJobAsync(JobService.JobServiceClient jobs, int i)
    {
        var submitted = await jobs.SubmitJobAsync(new SubmitJobRequest { Spec = new JobSpec { Tasks = { Echo(i) } } });
        var stdout = new StringBuilder();
        var (job, _) = await FollowAsync(jobs, submitted.Job.Id, chunk =>
        {
            if (chunk.Stream == OutputStream.Stdout)
            {
                stdout.Append(chunk.Data.ToStringUtf8());
            }
        });
        return (job, stdout.ToString());
    }

    private static async Task<(Job Job, int Chunks)> FollowAsync(JobService.JobServiceClient jobs, string jobId, Action<OutputChunk> onOutput)
    {
        using var call = jobs.WatchJob(new WatchJobRequest { JobId = jobId, Follow = true });
        Job? final = null;
        var chunks = 0;
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            if (message.EventCase == WatchJobResponse.EventOneofCase.Output)
            {
                chunks++;
                onOutput(message.Output);
            }
            else if (message.EventCase == WatchJobResponse.EventOneofCase.State)
            {
                final = message.State.Job;
            }
        }

        return (final ?? throw new InvalidOperationException($"job {jobId}: the watch ended without a state"), chunks);
    }

    public static async Task ForEachAsync(int count, int inFlight, Func<int, Task> body)
    {
        var next = -1;
        var runners = Enumerable.Range(0, Math.Min(inFlight, count)).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                await body(i);
            }
        });
        await Task.WhenAll(runners);
    }

    public static double Percentile(IReadOnlyList<double> samples, int percent)
    {
        var sorted = samples.Order().ToArray();
        var rank = (int)Math.Ceiling(percent / 100.0 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}
