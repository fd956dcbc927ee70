using System.Net;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Grpc.Core;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>
/// The master's store on a small filesystem that fills up while jobs run: submissions are refused with a one-line
/// RESOURCE_EXHAUSTED, reads keep working, workers' events wait in the broker (none in an error queue), and once
/// space is freed everything that waited is applied by the same master process — no job lost, none stuck.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class FullDiskTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan FullFor = TimeSpan.FromSeconds(25);

    /// <summary>About 3 MB of output.</summary>
    private const int Lines = 400_000;

    [Fact]
    public async Task Master_DiskFull_RefusesSubmissionsKeepsEventsInTheBroker_AppliesThemOnceSpaceIsFreed()
    {
        await using var volume = await SmallVolume.MountAsync(32);
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string> { ["MASTER_DB_PATH"] = Path.Combine(volume.Path, "master.db") });
        var first = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = Echo() })).Job;
        Assert.Equal(TaskState.Succeeded, (await cluster.WaitForJobAsync(first.Id, Deadline)).State);
        var master = cluster.Master!;

        // A job whose task waits for a go-ahead, then writes about 3 MB: more than any room the store's log kept.
        var gate = Directory.CreateTempSubdirectory("distexec-gate-");
        File.SetUnixFileMode(gate.FullName, (UnixFileMode)0b111_101_101);
        var go = Path.Combine(gate.FullName, "go");
        var running = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = GatedSeq(go) })).Job;
        await cluster.WaitForJobAsync(running.Id, j => j.State == TaskState.Running, Deadline, "the gated job running");

        try
        {
            volume.Fill();
            Assert.True(volume.FreeBytes < 4096, $"{volume.FreeBytes} bytes still free");
            await File.WriteAllTextAsync(go, "");

            // The worker runs the task to its end, but the store has no room for its output: the events wait in the
            // broker, not in an error queue, and the job stays running in the store.
            using var workerHttp = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{cluster.WorkerHttpPorts.Values.Single()}/") };
            await Eventually.Until(async () => FinishedAtWorker(await workerHttp.GetStringAsync("metrics")), n => n >= 2, Deadline,
                "the worker reporting the gated task finished");
            await Eventually.Until(() => master.Output.Contains("is full", StringComparison.Ordinal), Deadline, "the master's log saying its store is full");

            // The disk stays full longer than the master retries any other store error (18 s) before it gives an
            // event up to the error queue: the duration of the fault is the scenario, not a wait for a state.
            await Task.Delay(FullFor);
            Assert.Equal(TaskState.Running, (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = running.Id })).Job.State);
            Assert.Equal(0u, await RabbitMqBroker.MessageCountAsync(cluster.BrokerUrl, "distexec.master.events_error"));

            // A submission is refused at once with the reason, and nothing is queued.
            var refused = await Assert.ThrowsAsync<RpcException>(async () => await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = Echo() }));
            Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
            Assert.Contains("full", refused.Status.Detail, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', refused.Status.Detail);
            Assert.Equal(2, (await cluster.Jobs.ListJobsAsync(new ListJobsRequest())).Jobs.Count);

            // Reads keep working while the disk is full: the API, the dashboard and distctl.
            Assert.Equal(TaskState.Succeeded, (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = first.Id })).Job.State);
            Assert.Contains((await cluster.Jobs.ListJobsAsync(new ListJobsRequest())).Jobs, j => j.Id == first.Id);
            using var http = new HttpClient { BaseAddress = cluster.HttpBase };
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("ui/")).StatusCode);
            var status = await cluster.DistctlAsync("status", first.Id);
            Assert.True(status.ExitCode == 0, status.ToString());
        }
        finally
        {
            // Space comes back: every waiting event is applied by the same process, the job complete.
            volume.Free();
            gate.Delete(recursive: true);
        }

        Assert.Equal(TaskState.Succeeded, (await cluster.WaitForJobAsync(running.Id, Deadline)).State);
        var stdout = (await cluster.OutputAsync(running.Id))[0].Stdout;
        Assert.EndsWith($"\n{Lines}\n", stdout, StringComparison.Ordinal);
        Assert.Equal(Lines, stdout.Count(c => c == '\n'));

        var after = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = Echo() })).Job;
        Assert.Equal(TaskState.Succeeded, (await cluster.WaitForJobAsync(after.Id, Deadline)).State);
        Assert.False(master.HasExited);
        Assert.Same(master, cluster.Master);
        Assert.Equal(0u, await RabbitMqBroker.MessageCountAsync(cluster.BrokerUrl, "distexec.master.events_error"));

        // The log says it once each way, without a stack trace per retried event.
        await Eventually.Until(() => master.Output.Contains("writable again", StringComparison.Ordinal), Deadline, "the master's log saying the store is writable again");
        var log = master.Output;
        Assert.Contains("is full", log, StringComparison.Ordinal);
        Assert.True(log.Split('\n').Count(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)) < 20, log);
    }

    private static JobSpec Echo() => new() { Tasks = { new TaskSpec { Command = new CommandSpec { Program = "echo", Args = { "hello" } } } } };

    private static JobSpec GatedSeq(string go) => new()
    {
        Tasks = { new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", $"while [ ! -e '{go}' ]; do sleep 0.05; done; seq 1 {Lines}" } } } },
    };

    private static double FinishedAtWorker(string metrics) => metrics.Split('\n')
        .Where(l => l.StartsWith("distexec_tasks_finished_total{", StringComparison.Ordinal))
        .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
}
