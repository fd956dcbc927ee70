using System.Diagnostics;
using System.Net;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Grpc.Core;
using Grpc.Health.V1;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>
/// The broker goes away and a master starts meanwhile: it must come up and serve everything its store can answer,
/// refuse submissions at once with one line saying why, stay alive for its liveness probe (only readiness fails),
/// log the outage as a state change rather than a stack trace per retry, and connect when the broker is back.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class BrokerOutageTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Master_StartedWhileTheBrokerIsDown_ServesReadsRefusesSubmissionsThenConnects()
    {
        var broker = await RabbitMqBroker.StartPrivateAsync();
        try
        {
            await using var cluster = await Cluster.StartAsync(1, broker: broker);
            var before = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = Echo("before") })).Job;
            await cluster.WaitForJobAsync(before.Id, Deadline);
            var worker = cluster.Workers[0];

            await broker.StopServerAsync();
            cluster.Master!.Signal(9);
            await cluster.Master.WaitForExitAsync(TimeSpan.FromSeconds(10));
            await cluster.StartMasterAsync(live: true);

            // Alive, not ready: a liveness probe keeps it, readiness takes it out of rotation.
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, await cluster.MasterHealthAsync("liveness"));
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, await cluster.MasterHealthAsync(""));
            using var http = new HttpClient { BaseAddress = cluster.HttpBase };
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("healthz")).StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("readyz")).StatusCode);

            // Reads come from the store.
            Assert.Equal(TaskState.Succeeded, (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = before.Id })).Job.State);
            Assert.Contains((await cluster.Jobs.ListJobsAsync(new ListJobsRequest())).Jobs, j => j.Id == before.Id);
            var status = await cluster.DistctlAsync("status", before.Id);
            Assert.True(status.ExitCode == 0, status.ToString());

            // Submissions: refused at once, one line, nothing stored.
            var stored = cluster.StoredJobs();
            var asked = Stopwatch.StartNew();
            var refused = await Assert.ThrowsAsync<RpcException>(async () => await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = Echo("during") }));
            Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
            Assert.True(asked.Elapsed < TimeSpan.FromSeconds(10), $"refused after {asked.Elapsed.TotalSeconds:0.0}s");
            Assert.Contains("broker", refused.Status.Detail, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', refused.Status.Detail);
            Assert.Equal(stored, cluster.StoredJobs());

            // The worker stays alive through the outage too: its process answers, but it is not ready (no broker).
            using var workerHttp = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{cluster.WorkerHttpPorts.Values.Single()}/") };
            Assert.Equal(HttpStatusCode.OK, (await workerHttp.GetAsync("healthz")).StatusCode);
            await Eventually.Until(async () => (await workerHttp.GetAsync("readyz")).StatusCode, c => c == HttpStatusCode.ServiceUnavailable, Deadline, "the worker's /readyz saying it is not ready");
            Assert.Equal(HttpStatusCode.OK, (await workerHttp.GetAsync("healthz")).StatusCode);
            Assert.False(worker.HasExited);

            await broker.StartServerAsync();
            await Eventually.Until(async () => await cluster.MasterHealthAsync(""), s => s == HealthCheckResponse.Types.ServingStatus.Serving, Deadline, "the master ready again");
            await Eventually.Until(async () => (await workerHttp.GetAsync("readyz")).StatusCode, c => c == HttpStatusCode.OK, Deadline, "the worker ready again");
            var after = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = Echo("after") })).Job;
            Assert.Equal(TaskState.Succeeded, (await cluster.WaitForJobAsync(after.Id, Deadline)).State);
            Assert.Equal("after\n", (await cluster.OutputAsync(after.Id))[0].Stdout);

            // The outage in the master's log: a line when it started without the broker, one when it connected;
            // no stack trace per reconnection attempt.
                // The link is looked at once a second: the "connected" line may follow readiness by up to a second.
            var master = cluster.Master;
            await Eventually.Until(() => master.Output.Contains("Connected to the broker", StringComparison.Ordinal), Deadline, "the master's log saying it connected");
            var log = master.Output;
            Assert.Contains("Lost the broker", log, StringComparison.Ordinal);
            Assert.True(log.Split('\n').Count(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)) < 20, log);
        }
        finally
        {
            await broker.DisposeAsync();
        }
    }

    private static JobSpec Echo(string text) => new() { Tasks = { new TaskSpec { Command = new CommandSpec { Program = "echo", Args = { text } } } } };
}
