using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Grpc.Core;
using Grpc.Reflection.V1Alpha;

namespace DistributedExecutor.Tests.Observability;

/// <summary>/metrics, /healthz, /readyz, the JSON API and reflection on a real master and worker.</summary>
[Trait("Category", "EndToEnd")]
public sealed partial class ObservabilityTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task Metrics_DuringARun_QueueDepthAndFinishedCountsMove()
    {
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string> { ["MAX_CONCURRENT_TASKS"] = "2" });
        var spec = new JobSpec();
        for (var i = 0; i < 16; i++)
        {
            spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", "sleep 0.3; echo done" } } });
        }

        var before = Finished(await ScrapeAsync(cluster.HttpBase));
        var job = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;

        // While it runs: a queue, then the queue drains and the finished count climbs to every task.
        var depths = new List<double>();
        var finished = new List<double>();
        await Eventually.Until(async () =>
        {
            var metrics = await ScrapeAsync(cluster.HttpBase);
            depths.Add(Value(metrics, "distexec_queue_depth", "pool=\"default\"") ?? -1);
            finished.Add(Finished(metrics));
            return finished[^1];
        }, count => count - before >= 16, TimeSpan.FromSeconds(60), "16 tasks counted finished in /metrics");

        Assert.Contains(depths, d => d >= 4);
        Assert.Equal(0, Value(await ScrapeAsync(cluster.HttpBase), "distexec_queue_depth", "pool=\"default\""));
        Assert.True(finished.Distinct().Count() >= 3, $"the finished count should climb step by step: {string.Join(", ", finished.Distinct())}");

        var master = await ScrapeAsync(cluster.HttpBase);
        foreach (var name in new[]
        {
            "distexec_jobs_submitted_total", "distexec_tasks_finished_total", "distexec_task_duration_seconds_bucket",
            "distexec_queue_depth", "distexec_tasks_running", "distexec_workers_connected", "distexec_output_bytes_total",
            "distexec_store_size_bytes", "distexec_store_free_bytes",
        })
        {
            Assert.Contains(name, master, StringComparison.Ordinal);
        }

        // The store's size on disk and the room left on its filesystem (an alert watches both).
        Assert.True(Value(master, "distexec_store_size_bytes", "") > 0, master);
        Assert.True(Value(master, "distexec_store_free_bytes", "") > 0, master);

        Assert.Equal(1, Value(master, "distexec_workers_connected", "pool=\"default\""));
        Assert.Equal(16, Value(master, "distexec_task_duration_seconds_count", "outcome=\"Succeeded\""));

        // The worker counts what it ran on its own port.
        var worker = await ScrapeAsync(new Uri($"http://127.0.0.1:{cluster.WorkerHttpPorts.Values.Single()}/"));
        Assert.True(Value(worker, "distexec_tasks_finished_total", "outcome=\"Succeeded\"") >= 16, worker);
        Assert.NotNull(Value(worker, "distexec_tasks_running", "pool=\"default\""));
        Assert.Equal(TaskState.Succeeded, (await cluster.WaitForJobAsync(job.Id, TimeSpan.FromSeconds(30))).State);
    }

    [Fact]
    public async Task Health_MasterAndWorker_AliveAndReadyWithBrokerAndStore()
    {
        await using var cluster = await Cluster.StartAsync(1);
        var workerBase = new Uri($"http://127.0.0.1:{cluster.WorkerHttpPorts.Values.Single()}/");

        foreach (var baseUri in new[] { cluster.HttpBase, workerBase })
        {
            var alive = await Http.GetAsync(new Uri(baseUri, "healthz"));
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
            // Alive is at once; ready only once the process's bus has connected, which may follow the
            // cluster's start by a moment (the worker's bus comes up after its HTTP port opens).
            var (status, text) = await Eventually.Until(async () =>
            {
                using var ready = await Http.GetAsync(new Uri(baseUri, "readyz"));
                return (ready.StatusCode, await ready.Content.ReadAsStringAsync());
            }, r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30), $"{baseUri}readyz answering 200");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Contains("masstransit-bus: Healthy", text, StringComparison.Ordinal);
            Assert.Contains("overall: Healthy", text, StringComparison.Ordinal);
        }

        Assert.Contains("store: Healthy", await Http.GetStringAsync(new Uri(cluster.HttpBase, "readyz")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task JsonApi_WithToken_SubmitGetOutputWorkersPools_AndNothingWithoutIt()
    {
        const string token = "observability-test-token-1234567890";
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string> { ["API_TOKEN"] = token, ["WORKER_TOKEN"] = "worker-token-0987654321" });

        var anonymous = await Http.GetAsync(new Uri(cluster.HttpBase, "v1/jobs"));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        var workerToken = await SendAsync(HttpMethod.Get, new Uri(cluster.HttpBase, "v1/jobs"), "worker-token-0987654321");
        Assert.Equal(HttpStatusCode.Forbidden, workerToken.StatusCode);

        var submit = await SendAsync(HttpMethod.Post, new Uri(cluster.HttpBase, "v1/jobs"), token,
            """{"tasks":[{"command":{"program":"sh","args":["-c","echo out; echo err >&2"]}}]}""");
        Assert.Equal(HttpStatusCode.OK, submit.StatusCode);
        using var submitted = JsonDocument.Parse(await submit.Content.ReadAsStringAsync());
        var id = submitted.RootElement.GetProperty("job").GetProperty("id").GetString()!;
        Assert.Equal("TASK_STATE_QUEUED", submitted.RootElement.GetProperty("job").GetProperty("state").GetString());

        await cluster.WaitForJobAsync(id, TimeSpan.FromSeconds(30));
        using var job = JsonDocument.Parse(await (await SendAsync(HttpMethod.Get, new Uri(cluster.HttpBase, $"v1/jobs/{id}"), token)).Content.ReadAsStringAsync());
        Assert.Equal("TASK_STATE_SUCCEEDED", job.RootElement.GetProperty("job").GetProperty("state").GetString());

        using var output = JsonDocument.Parse(await (await SendAsync(HttpMethod.Get, new Uri(cluster.HttpBase, $"v1/jobs/{id}/output"), token)).Content.ReadAsStringAsync());
        var chunks = output.RootElement.GetProperty("chunks").EnumerateArray()
            .Select(c => (Stream: c.GetProperty("stream").GetString(), Text: Encoding.UTF8.GetString(c.GetProperty("data").GetBytesFromBase64())))
            .ToList();
        Assert.Equal("out\n", string.Concat(chunks.Where(c => c.Stream == "OUTPUT_STREAM_STDOUT").Select(c => c.Text)));
        Assert.Equal("err\n", string.Concat(chunks.Where(c => c.Stream == "OUTPUT_STREAM_STDERR").Select(c => c.Text)));

        var list = await (await SendAsync(HttpMethod.Get, new Uri(cluster.HttpBase, "v1/jobs?state=TASK_STATE_SUCCEEDED&pageSize=5"), token)).Content.ReadAsStringAsync();
        Assert.Contains(id, list, StringComparison.Ordinal);
        var workers = await (await SendAsync(HttpMethod.Get, new Uri(cluster.HttpBase, "v1/workers"), token)).Content.ReadAsStringAsync();
        Assert.Contains(cluster.WorkerHttpPorts.Keys.Single(), workers, StringComparison.Ordinal);
        var pools = await (await SendAsync(HttpMethod.Get, new Uri(cluster.HttpBase, "v1/pools"), token)).Content.ReadAsStringAsync();
        Assert.Contains("\"workersAlive\":1", pools, StringComparison.Ordinal);

        var bad = await SendAsync(HttpMethod.Get, new Uri(cluster.HttpBase, "v1/jobs/not-a-job"), token);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Reflection_ListsTheServices()
    {
        await using var cluster = await Cluster.StartAsync(0);
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://{cluster.MasterAddress}");
        var client = new ServerReflection.ServerReflectionClient(channel);

        using var call = client.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        var services = new List<string>();
        await foreach (var response in call.ResponseStream.ReadAllAsync())
        {
            services.AddRange(response.ListServicesResponse.Service.Select(s => s.Name));
        }

        Assert.Contains("distexec.v1.JobService", services);
        Assert.Contains("distexec.v1.WorkerService", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }

    [Fact]
    public async Task HttpAddress_BeyondLoopbackWithoutToken_RefusesToStartWithOneLine()
    {
        await using var master = ChildProcess.Start("open-http", RepoPaths.Bin("master"), [], new Dictionary<string, string?>
        {
            ["MASTER_ADDRESS"] = $"127.0.0.1:{FreePort.Next()}",
            ["MASTER_HTTP_ADDRESS"] = $"0.0.0.0:{FreePort.Next()}",
            ["API_TOKEN"] = null,
            ["API_TOKEN_FILE"] = null,
            ["EMBEDDED_WORKERS"] = "1",
        });

        Assert.True(await master.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, master.ExitCode);
        var line = Assert.Single(master.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("MASTER_HTTP_ADDRESS=0.0.0.0", line, StringComparison.Ordinal);
        Assert.Contains("set API_TOKEN", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tracing_WithOtlpEndpoint_OneTraceFromDistctlThroughMasterBrokerAndWorker()
    {
        await using var otlp = await OtlpReceiver.StartAsync();
        var telemetry = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_METRICS_EXPORTER"] = "none",
        };
        await using var cluster = await Cluster.StartAsync(1, telemetry);

        var run = await ProcessRunner.RunAsync(RepoPaths.Bin("distctl"), ["--master", cluster.MasterAddress, "run", "--wait", "--", "echo", "traced"],
            new Dictionary<string, string?>(telemetry.ToDictionary(p => p.Key, p => (string?)p.Value)) { ["DISTEXEC_TOKEN"] = null });
        Assert.True(run.ExitCode == 0, run.ToString());

        // The trace that starts in distctl: its spans from all three programs, down to the execution.
        var spans = await Eventually.Until(() =>
        {
            var all = otlp.Spans.ToList();
            var root = all.FirstOrDefault(s => s.Service == "distctl");
            return Task.FromResult(root.TraceId is null ? [] : all.Where(s => s.TraceId == root.TraceId).ToList());
        }, trace => trace.Any(s => s.Service == "distexec-worker" && s.Name == "execute task")
            // The consume span encloses "execute task" and ends after it: it can come in a later export.
            && trace.Any(s => s.Service == "distexec-worker" && s.Name.StartsWith("distexec.tasks.default", StringComparison.Ordinal))
            // Each program exports on its own timer: wait for the master's spans too, not only the worker's.
            && trace.Any(s => s.Service == "distexec-master" && s.Name == "store job")
            && trace.Any(s => s.Service == "distexec-master" && s.Name.Contains("SubmitJob", StringComparison.Ordinal))
            && trace.Any(s => s.Service == "distctl"),
            TimeSpan.FromSeconds(30), "the spans of distctl, master and worker in distctl's trace");

        Assert.Contains(spans, s => s.Service == "distctl" && s.Name == "distctl run");
        Assert.Contains(spans, s => s.Service == "distexec-master" && s.Name == "admit job");
        Assert.Contains(spans, s => s.Service == "distexec-master" && s.Name == "store job");
        Assert.Contains(spans, s => s.Service == "distexec-master" && s.Name.Contains("SubmitJob", StringComparison.Ordinal));
        Assert.True(spans.Any(s => s.Service == "distexec-worker" && s.Name.StartsWith("distexec.tasks.default", StringComparison.Ordinal)),
            string.Join(", ", spans.Select(s => $"{s.Service}: {s.Name}")));
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, string token, string? json = null)
    {
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return await Http.SendAsync(request);
    }

    private static async Task<string> ScrapeAsync(Uri baseUri)
    {
        var response = await Http.GetAsync(new Uri(baseUri, "metrics"));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    private static double Finished(string metrics) => Value(metrics, "distexec_tasks_finished_total", "outcome=\"Succeeded\"") ?? 0;

    /// <summary>The value of the first sample of <paramref name="name"/> whose labels contain <paramref name="label"/>.</summary>
    private static double? Value(string metrics, string name, string label)
    {
        foreach (Match match in Sample().Matches(metrics))
        {
            if (match.Groups["name"].Value == name && match.Groups["labels"].Value.Contains(label, StringComparison.Ordinal))
            {
                return double.Parse(match.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    [GeneratedRegex(@"^(?<name>[a-z_]+)\{(?<labels>[^}]*)\} (?<value>[-+0-9.eE]+)", RegexOptions.Multiline)]
    private static partial Regex Sample();
}
