using System.Diagnostics;
using System.Text;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Grpc.Core;

namespace DistributedExecutor.Bench;

/// <summary>
/// The five measurements of the issue, each with its baseline taken in this same run: a private RabbitMQ,
/// bin/master and two bin/worker processes on this machine, driven by one warm gRPC client.
/// </summary>
internal static class Scenarios
{
    public static async Task RunAllAsync(BenchSettings settings, Report report)
    {
        var empty = Baselines.EmptyProgramPath();
        Report.Progress("starting a private RabbitMQ");
        var broker = await RabbitMqBroker.StartPrivateAsync();
        try
        {
            var xargs = await Baselines.XargsAsync(settings.Jobs, settings.TotalConcurrency, report);
            Report.Progress($"xargs -P{settings.TotalConcurrency}: {xargs:0} echo/s");

            await using (var cluster = await Cluster.StartAsync(settings.Workers, WorkerSettings(settings), broker: broker))
            {
                await WarmUpAsync(cluster);
                await ManyJobsAsync(cluster, settings, report, xargs);
                await OneBatchAsync(cluster, settings, report, xargs);
                await LatencyAsync(cluster, settings, report);
                await CliAsync(cluster, settings, report, empty);
            }

            await BacklogAsync(broker, settings, report);
        }
        finally
        {
            await broker.DisposeAsync();
        }
    }

    private static Dictionary<string, string> WorkerSettings(BenchSettings settings) => new()
    {
        ["MAX_CONCURRENT_TASKS"] = settings.WorkerConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["MAX_CONCURRENT_JOBS"] = "1000000",
    };

    private static async Task WarmUpAsync(Cluster cluster)
    {
        Report.Progress("warming up (1000 jobs)");
        await ForEachAsync(1000, 32, async i => await RunJobAsync(cluster.Jobs, i));
    }

    /// <summary>(1) Single-task jobs, at most InFlight at once, each submitted, followed to its end and its output read back.</summary>
    private static async Task ManyJobsAsync(Cluster cluster, BenchSettings settings, Report report, double xargsRate)
    {
        Report.Progress($"(1) {settings.Jobs} single-task jobs, {settings.InFlight} in flight");
        var wrong = 0;
        var redelivered = 0;
        var cpu = CpuProfile.Start();
        var clock = Stopwatch.StartNew();
        await ForEachAsync(settings.Jobs, settings.InFlight, async i =>
        {
            var (job, output) = await RunJobAsync(cluster.Jobs, i);
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
        var rate = settings.Jobs / clock.Elapsed.TotalSeconds;
        report.Check("(1) every job succeeded with its own output exactly once", wrong == 0, $"{settings.Jobs - wrong} of {settings.Jobs} right");
        report.Check("(1) stored jobs", CountStored(cluster, $"SELECT COUNT(*) FROM jobs WHERE state = {(int)TaskState.Succeeded}") >= settings.Jobs, "all recorded Succeeded");
        report.AtLeast("many_jobs", $"(1) {settings.Jobs} single-task jobs", rate, "tasks/s", $"xargs -P{settings.TotalConcurrency}", xargsRate, 0.5);
        report.Info("many_jobs_redelivered", "(1) jobs with more than one attempt", redelivered, "jobs");
        report.Profile("many_jobs", cpu.PerTask(settings.Jobs), clock.Elapsed.TotalSeconds * Environment.ProcessorCount * 1000 / settings.Jobs);
    }

    /// <summary>(2) One job of BatchTasks tasks, followed to its end with every task's output read back.</summary>
    private static async Task OneBatchAsync(Cluster cluster, BenchSettings settings, Report report, double xargsRate)
    {
        Report.Progress($"(2) one job of {settings.BatchTasks} tasks");
        var spec = new JobSpec();
        for (var i = 0; i < settings.BatchTasks; i++)
        {
            spec.Tasks.Add(Echo(i));
        }

        var cpu = CpuProfile.Start();
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
        report.AtLeast("one_batch", $"(2) one job of {settings.BatchTasks} tasks", rate, "tasks/s", $"xargs -P{settings.TotalConcurrency}", xargsRate, 0.6);
        report.Info("one_batch_submit", "(2) SubmitJob of the batch", submitSeconds * 1000, "ms");
        report.Profile("one_batch", cpu.PerTask(settings.BatchTasks), clock.Elapsed.TotalSeconds * Environment.ProcessorCount * 1000 / settings.BatchTasks);
    }

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

        report.Check("(3) every sequential job right", wrong == 0, $"{settings.LatencyJobs - wrong} of {settings.LatencyJobs} right");
        report.AtMost("latency_p50", "(3) submit to finished, p50", Percentile(samples, 50), "ms", 3, "local spawn of echo p50", Percentile(spawn, 50));
        report.AtMost("latency_p99", "(3) submit to finished, p99", Percentile(samples, 99), "ms", 10, "local spawn of echo p99", Percentile(spawn, 99));
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

        var clock = Stopwatch.StartNew();
        var rest = settings.Backlog - small;
        await ForEachAsync(rest, settings.InFlight, async i =>
            await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = new JobSpec { Tasks = { Echo(small + i) } } }));
        var submitRate = rest / clock.Elapsed.TotalSeconds;
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

    private static async Task ForEachAsync(int count, int inFlight, Func<int, Task> body)
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
