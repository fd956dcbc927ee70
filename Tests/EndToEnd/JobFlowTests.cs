using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Grpc.Core;
using Microsoft.Data.Sqlite;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>Many tasks, two workers, a master that dies: nothing lost, nothing run twice.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class JobFlowTests(ClusterFixture fixture)
{
    private Cluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Submit_TwoHundredTasks_EachRunsOnceWithItsOwnOutputAcrossBothWorkers()
    {
        var spec = new JobSpec();
        for (var i = 0; i < 200; i++)
        {
            spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", $"echo task-{i}; echo err-{i} >&2; sleep 0.05" } } });
        }

        var job = (await Cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;
        var done = await Cluster.WaitForJobAsync(job.Id, TimeSpan.FromSeconds(120));

        Assert.Equal(TaskState.Succeeded, done.State);
        Assert.Equal(200, done.Tasks.Count);
        Assert.All(done.Tasks, t => Assert.Single(t.Attempts));
        Assert.Equal(2, done.Tasks.Select(t => t.WorkerId).Distinct().Count());
        var output = await Cluster.OutputAsync(job.Id);
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal($"task-{i}\n", output[i].Stdout);
            Assert.Equal($"err-{i}\n", output[i].Stderr);
        }
    }

    [Fact]
    public async Task ShortTasks_EachReportedByItsTaskFinishedAlone()
    {
        // A task that ends within 50 ms is reported by one message, its TaskFinished carrying its output: no
        // TaskStarted (sent at 100 ms), no TaskOutput of its own (flushed at 50 ms); each would cost a persistent
        // message, a store write, a watcher's wake-up. Reporting every task in three messages (as a batcher flushing
        // at the attempt's end did) fails this many times over.
        const int Jobs = 20;
        // Workers that have not run a task yet compile their attempt path during the first ones, which then run past
        // 100 ms on a busy machine: warm them first.
        var warmUp = new JobSpec();
        for (var i = 0; i < Jobs; i++)
        {
            warmUp.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "echo", Args = { $"warm-{i}" } } });
        }

        var initial = await ReportsAsync();
        var warm = (await Cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = warmUp })).Job.Id;
        Assert.Equal(TaskState.Succeeded, (await Cluster.WaitForJobAsync(warm, TimeSpan.FromSeconds(60))).State);

        // The scrape may be served from the exporter's short cache: read until it shows the warm-up's TaskFinished.
        var before = await Eventually.Until(ReportsAsync, r => r.Finished - initial.Finished >= Jobs, TimeSpan.FromSeconds(30), "the master's metrics to count the warm-up");
        var ids = new List<string>();
        for (var i = 0; i < Jobs; i++)
        {
            var spec = new JobSpec { Tasks = { new TaskSpec { Command = new CommandSpec { Program = "echo", Args = { $"short-{i}" } } } } };
            ids.Add((await Cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job.Id);
        }

        var slow = 0;
        foreach (var id in ids)
        {
            var done = await Cluster.WaitForJobAsync(id, TimeSpan.FromSeconds(60));
            Assert.Equal(TaskState.Succeeded, done.State);
            var task = Assert.Single(done.Tasks);
            // The worker's own clock for the run: one that took 40 ms or more may have flushed its output or (from 100 ms) said it started.
            slow += task.FinishedAt.ToDateTimeOffset() - task.StartedAt.ToDateTimeOffset() >= TimeSpan.FromMilliseconds(40) ? 1 : 0;
        }

        var output = await Cluster.OutputAsync(ids[7]);
        Assert.Equal("short-7\n", output[0].Stdout);
        var after = await Eventually.Until(ReportsAsync, r => r.Finished - before.Finished >= Jobs, TimeSpan.FromSeconds(30),
            $"the master's metrics to count the {Jobs} TaskFinished");
        var (started, carried, finished) = (after.Started - before.Started, after.Output - before.Output, after.Finished - before.Finished);
        Assert.True(finished >= Jobs, $"{finished} TaskFinished received for {Jobs} tasks");
        // Only runs that took a while may have sent more; at most two more each (one echo line, one TaskStarted).
        Assert.True(slow <= Jobs / 2, $"{slow} of {Jobs} echo runs took 40 ms or more: the machine is too busy for this test to tell anything");
        Assert.True(started + carried <= Math.Max(Jobs / 4, 2 * slow),
            $"{Jobs} short tasks ({slow} of them 40 ms or longer) sent {started} TaskStarted and {carried} TaskOutput beside their {finished} TaskFinished");
    }

    /// <summary>The master's count of worker reports received so far, by kind (distexec_reports_received_total).</summary>
    private async Task<(long Started, long Output, long Finished)> ReportsAsync()
    {
        var metrics = await Cluster.MetricsAsync();
        long Count(string kind) => System.Text.RegularExpressions.Regex.Matches(metrics, $"^distexec_reports_received_total{{[^}}]*kind=\"{kind}\"[^}}]*}} (\\d+)", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Sum(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        return (Count("started"), Count("output"), Count("finished"));
    }

    [Fact]
    public async Task Master_KilledAndRestartedMidRun_NoJobLost()
    {
        var ids = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            var spec = new JobSpec();
            spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", $"sleep 0.{i % 10}; echo job-{i}" } } });
            ids.Add((await Cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job.Id);
        }

        Cluster.Master!.Signal(9);
        Assert.True(await Cluster.Master.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        using (var connection = new SqliteConnection($"Data Source={Cluster.DatabasePath}"))
        {
            connection.Open();
            using var check = connection.CreateCommand();
            check.CommandText = "PRAGMA integrity_check";
            Assert.Equal("ok", check.ExecuteScalar());
        }

        await Cluster.StartMasterAsync();

        for (var i = 0; i < ids.Count; i++)
        {
            var job = await Cluster.WaitForJobAsync(ids[i], TimeSpan.FromSeconds(60));
            Assert.True(job.State == TaskState.Succeeded, $"job {i} ended {job.State}: {job.Tasks[0].Error}\n{Cluster.Logs()}");
            var output = await Cluster.OutputAsync(ids[i]);
            Assert.Equal($"job-{i}\n", output[0].Stdout);

            // Every job was accepted before the kill, and workers kept running: each task ran once. A duplicate run
            // (a republished message, an event applied twice) would show as a second attempt.
            Assert.True(job.Tasks[0].Attempts.Count == 1, $"job {i}: {string.Join(", ", job.Tasks[0].Attempts.Select(a => $"{a.State} on {a.WorkerId}"))}");
        }

        await Cluster.WaitForWorkersAsync(2);
    }

    [Fact]
    public async Task Submit_InvalidSpecs_InvalidArgumentWithEveryProblem()
    {
        var spec = new JobSpec { Pool = "Bad Pool!" };
        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "" }, Timeout = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromDays(30)) });

        var error = await Assert.ThrowsAsync<RpcException>(async () => await Cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec }));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("pool", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("program is empty", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("MAX_TASK_TIMEOUT_SECONDS", error.Status.Detail, StringComparison.Ordinal);
    }
}
