using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>
/// A stranger with nothing but the right to submit jobs (or not even that) attacks a real cluster: real master
/// and worker processes holding real secrets, a real broker. Every attack must get nothing, and the master and
/// worker must keep serving.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class HostileTaskTests(HostileTaskTests.AllowListFixture allowList) : IClassFixture<HostileTaskTests.AllowListFixture>
{
    private const string ClientToken = "hostile-suite-client-token-0123456789";
    private const string WorkerToken = "hostile-suite-worker-token-9876543210";
    private const string Nobody = "65534";

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(60) };

    [Fact]
    public async Task Secrets_TaskReadsWorkerAndMasterProcFilesAndTokenFile_GetsNothing()
    {
        var broker = await RabbitMqBroker.Shared;
        var isolated = await broker.IsolatedUserUrlAsync($"hostile-{FreePort.Next()}");
        using var secrets = new SecretDir();
        var tokenFile = secrets.Write("worker-token", WorkerToken, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var settings = new Dictionary<string, string> { ["API_TOKEN"] = ClientToken, ["WORKER_TOKEN_FILE"] = tokenFile };
        if (isolated is { } own)
        {
            settings["RABBITMQ_URL"] = own.Url.ToString();
        }

        await using var cluster = await Cluster.StartAsync(1, settings);
        var worker = cluster.Workers.Single().Pid;
        var master = cluster.Master!.Pid;

        // Everything a task could try from the outside of the worker and master processes.
        var script = $"""
            id -u
            for p in $PPID {worker} {master}; do
              echo "== $p"
              tr '\0' '\n' < /proc/$p/environ
              tr '\0' ' ' < /proc/$p/cmdline; echo
              ls -l /proc/$p/fd/ 2>&1 | head -n 5
              dd if=/proc/$p/mem bs=1 count=16 skip=4096 2>&1 | od -c | head -n 2
              grep -a -m 3 -e TOKEN -e amqp /proc/$p/maps /proc/$p/task/*/environ 2>&1 | head -n 3
            done
            kill -0 {worker} && echo SIGNAL-REACHED-WORKER
            kill -0 {master} && echo SIGNAL-REACHED-MASTER
            cat {tokenFile}
            cat {cluster.DatabasePath} | head -c 4096
            ls {Path.GetDirectoryName(cluster.DatabasePath)}
            """;
        var (job, output) = await RunAsync(cluster, Shell(script));

        Assert.True(job.State == TaskState.Failed || job.State == TaskState.Succeeded, job.ToString());
        Assert.StartsWith(Nobody + "\n", output, StringComparison.Ordinal);
        Assert.DoesNotContain(ClientToken, output, StringComparison.Ordinal);
        Assert.DoesNotContain(WorkerToken, output, StringComparison.Ordinal);
        Assert.DoesNotContain("RABBITMQ_URL", output, StringComparison.Ordinal);
        Assert.DoesNotContain("amqp://", output, StringComparison.Ordinal);
        Assert.DoesNotContain("SQLite format", output, StringComparison.Ordinal);
        if (isolated is { } broke)
        {
            Assert.DoesNotContain(broke.Password, output, StringComparison.Ordinal);
        }

        Assert.Contains("Permission denied", output, StringComparison.Ordinal);
        Assert.DoesNotContain("SIGNAL-REACHED", output, StringComparison.Ordinal);

        // Both keep serving after the attempt.
        var (after, afterOutput) = await RunAsync(cluster, Command("echo", "still serving"));
        Assert.Equal(TaskState.Succeeded, after.State);
        Assert.Equal("still serving\n", afterOutput);
        Assert.False(cluster.Workers.Single().HasExited);
    }

    [Fact]
    public async Task Secrets_TokenFileTheTaskUserCouldRead_WorkerRefusesToStart()
    {
        using var secrets = new SecretDir();
        var readable = secrets.Write("worker-token", WorkerToken, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        await using var cluster = await Cluster.StartAsync(0, new Dictionary<string, string> { ["API_TOKEN"] = ClientToken, ["WORKER_TOKEN"] = WorkerToken });

        var worker = cluster.StartWorker($"readable-{cluster.MasterPort}", settings: new Dictionary<string, string> { ["WORKER_TOKEN"] = "", ["WORKER_TOKEN_FILE"] = readable });

        Assert.True(await worker.WaitForExitAsync(TimeSpan.FromSeconds(30)), worker.Output);
        Assert.Equal(2, worker.ExitCode);
        Assert.Contains($"WORKER_TOKEN_FILE={readable} is readable by the task user", worker.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(WorkerToken, worker.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Secrets_EmbeddedWorkerTask_CannotReadTheMastersToken()
    {
        await using var cluster = await Cluster.StartAsync(0, new Dictionary<string, string> { ["API_TOKEN"] = ClientToken, ["EMBEDDED_WORKERS"] = "1" });
        await cluster.WaitForWorkersAsync(1);

        var (job, output) = await RunAsync(cluster, Shell($"id -u; tr '\\0' '\\n' < /proc/$PPID/environ; tr '\\0' '\\n' < /proc/{cluster.Master!.Pid}/environ; echo end"));

        Assert.Equal(TaskState.Succeeded, job.State);
        Assert.StartsWith(Nobody + "\n", output, StringComparison.Ordinal);
        Assert.Contains("end\n", output, StringComparison.Ordinal);
        Assert.DoesNotContain(ClientToken, output, StringComparison.Ordinal);
        Assert.DoesNotContain("API_TOKEN", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Secrets_NonRootWorker_TasksShareItsUidButNotItsEnvironment_AndItSaysSo()
    {
        await using var cluster = await Cluster.StartAsync(0, new Dictionary<string, string> { ["API_TOKEN"] = ClientToken, ["WORKER_TOKEN"] = WorkerToken });
        var id = $"unprivileged-{cluster.MasterPort}";
        var worker = cluster.StartWorker(id, settings: new Dictionary<string, string> { ["HOME"] = "/tmp" },
            through: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        await cluster.WaitForWorkersAsync(1);

        var (job, output) = await RunAsync(cluster, Shell($"id -u; tr '\\0' '\\n' < /proc/{worker.Pid}/environ; ls /proc/{worker.Pid}/fd; kill -0 {worker.Pid} && echo SIGNAL-ALLOWED; echo end"));

        Assert.Equal(TaskState.Succeeded, job.State);
        Assert.StartsWith(Nobody + "\n", output, StringComparison.Ordinal);
        Assert.Contains("Permission denied", output, StringComparison.Ordinal);
        Assert.DoesNotContain(WorkerToken, output, StringComparison.Ordinal);
        Assert.DoesNotContain("RABBITMQ_URL", output, StringComparison.Ordinal);

        // Sharing the uid, it may signal the worker: what the README says such a deployment gives up.
        Assert.Contains("SIGNAL-ALLOWED", output, StringComparison.Ordinal);
        var registered = (await cluster.WorkerControl.ListWorkersAsync(new ListWorkersRequest())).Workers.Single();
        Assert.Contains("tasks share the worker's uid 65534", registered.TaskIsolation, StringComparison.Ordinal);
        var ready = await Http.GetStringAsync($"http://127.0.0.1:{cluster.WorkerHttpPorts[id]}/readyz");
        Assert.Contains("task-isolation: Degraded (tasks share the worker's uid 65534", ready, StringComparison.Ordinal);
        Assert.Contains("tasks share the worker's uid 65534", worker.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Secrets_RootWorkerWithoutSetuid_RefusesToRunTasksAsRoot()
    {
        await using var cluster = await Cluster.StartAsync(0);

        var worker = cluster.StartWorker($"capless-{cluster.MasterPort}", through: ["/usr/bin/setpriv", "--bounding-set=-setuid,-setgid", "--inh-caps=-setuid,-setgid", "--"]);

        Assert.True(await worker.WaitForExitAsync(TimeSpan.FromSeconds(30)), worker.Output);
        Assert.Equal(2, worker.ExitCode);
        Assert.Contains("the worker runs as root without CAP_SETUID and CAP_SETGID, so tasks would run as root", worker.Output, StringComparison.Ordinal);
    }

    public static TheoryData<string> LoaderAndInterpreterVariables() =>
    [
        "BASH_FUNC_echo%%", "BASH_ENV", "ENV", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "GLIBC_TUNABLES", "GCONV_PATH",
        "SHELLOPTS", "PS4", "PATH", "PYTHONSTARTUP", "PERL5OPT", "RUBYOPT", "NODE_OPTIONS", "JAVA_TOOL_OPTIONS",
        "DOTNET_STARTUP_HOOKS", "GIT_SSH_COMMAND", "LESSOPEN",
    ];

    [Theory]
    [MemberData(nameof(LoaderAndInterpreterVariables))]
    public async Task Env_WithAnAllowList_LoaderShellAndInterpreterVariablesRefused(string name)
    {
        var cluster = allowList;
        var spec = new CommandSpec { Program = cluster.Script };
        spec.Env[name] = name.StartsWith("BASH_FUNC", StringComparison.Ordinal) ? "() { id; }" : "/tmp/hostile";

        var refused = await Assert.ThrowsAsync<RpcException>(() => cluster.Cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = Job(spec) }).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Contains(name, refused.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Env_WithAnAllowList_PlainVariablesStillRun()
    {
        var cluster = allowList;
        var spec = new CommandSpec { Program = cluster.Script };
        spec.Env["GREETING"] = "hello";

        var (job, output) = await RunAsync(cluster.Cluster, Job(spec));

        Assert.Equal(TaskState.Succeeded, job.State);
        Assert.Equal("script says hello\n", output);
    }

    [Fact]
    public async Task OversizedRequests_TenInParallelWithAndWithoutToken_MasterStaysSmallAndServes()
    {
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string> { ["API_TOKEN"] = ClientToken });
        var body = new byte[28 * 1024 * 1024];
        Array.Fill(body, (byte)'x');
        var grpcFrame = new byte[5 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(grpcFrame.AsSpan(1), (uint)body.Length);
        body.CopyTo(grpcFrame, 5);
        var json = Encoding.UTF8.GetBytes("{\"tasks\":[{\"command\":{\"program\":\"echo\",\"args\":[\"" + new string('y', body.Length) + "\"]}}]}");

        foreach (var token in new string?[] { null, ClientToken })
        {
            var grpc = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => PostGrpcAsync(cluster, "/distexec.v1.JobService/SubmitJob", grpcFrame, token)));
            Assert.All(grpc, status => Assert.Equal(token is null ? StatusCode.Unauthenticated : StatusCode.ResourceExhausted, status));

            var http = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => PostJsonAsync(cluster, json, token)));
            Assert.All(http, status => Assert.Equal(token is null ? HttpStatusCode.Unauthorized : HttpStatusCode.RequestEntityTooLarge, status));
        }

        var (resident, peak) = Memory(cluster.Master!.Pid);
        Assert.True(peak < 300, $"the master peaked at {peak} MB (now {resident} MB)");
        var (job, output) = await RunAsync(cluster, Command("echo", "still serving"));
        Assert.Equal(TaskState.Succeeded, job.State);
        Assert.Equal("still serving\n", output);
    }

    public static TheoryData<string> Containments() => ["cgroup", "reaper"];

    [Theory]
    [MemberData(nameof(Containments))]
    public async Task Escape_SetsidAndDaemonChildren_DieWithTheirTask(string containment)
    {
        var marker = containment == "cgroup" ? "1" : "2";
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string>
        {
            ["TASK_CONTAINMENT"] = containment,
            ["MAX_CONCURRENT_TASKS"] = "4",
            ["KILL_GRACE_SECONDS"] = "1",
        });

        // Ten tasks that each leave a setsid'd child holding their pipes: each ends at once, Succeeded, and takes
        // its child along (they would fill every slot of the worker otherwise).
        var spec = new JobSpec();
        for (var i = 0; i < 10; i++)
        {
            spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", $"setsid sleep 4242.{marker} & sleep 0.3; echo started" } }, Timeout = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(3)) });
        }

        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", $"setsid sleep 4343.{marker} >/dev/null 2>&1 </dev/null &" } } });
        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "sh", Args = { "-c", $"(setsid sh -c 'sleep 4344.{marker} & exit 0' &); exit 0" } } });
        var job = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;
        var done = await cluster.WaitForJobAsync(job.Id, TimeSpan.FromSeconds(60));

        Assert.Equal(TaskState.Succeeded, done.State);
        Assert.All(done.Tasks, t => Assert.Equal(TaskState.Succeeded, t.State));
        Assert.Empty(Survivors($"4242.{marker}", $"4343.{marker}", $"4344.{marker}"));
    }

    [Fact]
    public async Task Containment_WithoutTheTaskStartLibrary_CgroupModeRefusedAutoFallsBackToTheLauncherAndSaysWhy()
    {
        // A worker whose libdistexec-spawn.so is gone (a broken install) must not start tasks uncontained: asked for
        // cgroups it refuses to start; left to choose it contains them through the launcher's reaper mode.
        using var copy = new TempDirectory("distexec-worker-nolib-");
        var installed = File.ResolveLinkTarget(RepoPaths.Bin("worker"), returnFinalTarget: true)?.FullName ?? RepoPaths.Bin("worker");
        foreach (var file in Directory.EnumerateFiles(Path.GetDirectoryName(installed)!).Where(f => Path.GetFileName(f) != "libdistexec-spawn.so"))
        {
            File.Copy(file, copy.File(Path.GetFileName(file)));
        }

        var program = copy.File(Path.GetFileName(installed));
        await using var cluster = await Cluster.StartAsync(0);

        var refused = cluster.StartWorker($"nolib-cgroup-{cluster.MasterPort}", settings: new Dictionary<string, string> { ["TASK_CONTAINMENT"] = "cgroup" }, program: program);
        Assert.True(await refused.WaitForExitAsync(TimeSpan.FromSeconds(30)), refused.Output);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("TASK_CONTAINMENT=cgroup, but libdistexec-spawn.so is missing or cannot be loaded", refused.Output, StringComparison.Ordinal);

        cluster.StartWorker($"nolib-auto-{cluster.MasterPort}", program: program);
        await cluster.WaitForWorkersAsync(1);
        var registered = (await cluster.WorkerControl.ListWorkersAsync(new ListWorkersRequest())).Workers.Single(w => w.State == WorkerState.Alive);
        Assert.Contains("each under a child subreaper (libdistexec-spawn.so is missing", registered.TaskIsolation, StringComparison.Ordinal);
        var (job, output) = await RunAsync(cluster, Shell("setsid sleep 4545.3 & id -u; echo end"));
        Assert.Equal(TaskState.Succeeded, job.State);
        Assert.Equal($"{Nobody}\nend\n", output);
        Assert.Empty(Survivors("4545.3"));
    }

    [Theory]
    [MemberData(nameof(Containments))]
    public async Task Escape_TimeoutCancelAndDrain_KillEveryProcessOfTheTask(string containment)
    {
        var marker = containment == "cgroup" ? "1" : "2";
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string>
        {
            ["TASK_CONTAINMENT"] = containment,
            ["KILL_GRACE_SECONDS"] = "1",
            ["DRAIN_TIMEOUT_SECONDS"] = "1",
        });

        // Timeout: a task and a setsid'd child that both ignore TERM end TimedOut within timeout + grace.
        var timeout = TimeSpan.FromSeconds(2);
        var stubborn = new TaskSpec
        {
            Command = new CommandSpec { Program = "sh", Args = { "-c", $"setsid sh -c 'trap \"\" TERM; sleep 4444.{marker}' & trap '' TERM; echo up; sleep 4445.{marker}" } },
            Timeout = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(timeout),
        };
        var timedOut = await cluster.WaitForJobAsync((await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = new JobSpec { Tasks = { stubborn } } })).Job.Id, TimeSpan.FromSeconds(30));
        Assert.Equal(TaskState.TimedOut, timedOut.State);
        var attempt = timedOut.Tasks[0].Attempts.Single();
        var took = attempt.FinishedAt.ToDateTimeOffset() - attempt.StartedAt.ToDateTimeOffset();
        // Timeout plus KILL_GRACE_SECONDS (1 s), and a moment to clean up and report on a loaded machine.
        Assert.True(took <= timeout + TimeSpan.FromSeconds(1) + TimeSpan.FromSeconds(3), $"ended {took.TotalSeconds}s after it started");
        Assert.Empty(Survivors($"4444.{marker}", $"4445.{marker}"));

        // Cancel: a double-forked daemon goes with its task.
        var daemon = Shell($"(setsid sh -c 'sleep 4545.{marker}' &); echo up; sleep 4546.{marker}");
        var canceled = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = daemon })).Job.Id;
        await cluster.WaitForJobAsync(canceled, j => j.State == TaskState.Running && Survivors($"4545.{marker}").Count > 0, TimeSpan.FromSeconds(30), "the daemon running");
        await cluster.Jobs.CancelJobAsync(new CancelJobRequest { JobId = canceled });
        Assert.Equal(TaskState.Canceled, (await cluster.WaitForJobAsync(canceled, TimeSpan.FromSeconds(30))).State);
        Assert.Empty(Survivors($"4545.{marker}", $"4546.{marker}"));

        // Drain: a worker told to stop kills what is left of its tasks before it exits.
        var draining = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = Shell($"setsid sleep 4646.{marker} & sleep 4647.{marker}") })).Job.Id;
        await Eventually.Until(() => Survivors($"4646.{marker}").Count > 0, TimeSpan.FromSeconds(30), "the task's child running");
        var worker = cluster.Workers.Single();
        worker.Signal(15);
        Assert.True(await worker.WaitForExitAsync(TimeSpan.FromSeconds(30)), worker.Output);
        Assert.Empty(Survivors($"4646.{marker}", $"4647.{marker}"));
        Assert.NotEqual(TaskState.Succeeded, (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = draining })).Job.State);
    }

    [Fact]
    public async Task DnsRebinding_ForeignHostOrOrigin_RefusedByATokenlessMaster()
    {
        await using var cluster = await Cluster.StartAsync(1);
        var submit = new SubmitJobRequest { Spec = Command("id") }.ToByteArray();
        var frame = new byte[5 + submit.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)submit.Length);
        submit.CopyTo(frame, 5);

        Assert.Equal(StatusCode.PermissionDenied, await PostGrpcAsync(cluster, "/distexec.v1.JobService/SubmitJob", frame, null, host: $"attacker.example:{cluster.MasterPort}"));
        Assert.Equal(StatusCode.PermissionDenied, await PostGrpcAsync(cluster, "/distexec.v1.JobService/SubmitJob", frame, null, origin: "http://attacker.example"));

        using var json = new HttpRequestMessage(HttpMethod.Post, new Uri(cluster.HttpBase, "v1/jobs"))
        {
            Content = new StringContent("""{"tasks":[{"command":{"program":"id"}}]}""", Encoding.UTF8, "application/json"),
        };
        json.Headers.Host = "attacker.example";
        Assert.Equal(HttpStatusCode.Forbidden, (await Http.SendAsync(json)).StatusCode);

        using var cross = new HttpRequestMessage(HttpMethod.Get, new Uri(cluster.HttpBase, "v1/jobs"));
        cross.Headers.Add("Origin", "https://attacker.example");
        Assert.Equal(HttpStatusCode.Forbidden, (await Http.SendAsync(cross)).StatusCode);

        Assert.Equal(0, cluster.StoredJobs());

        // The same requests to a loopback name are served.
        Assert.Equal(StatusCode.OK, await PostGrpcAsync(cluster, "/distexec.v1.JobService/SubmitJob", frame, null, host: $"localhost:{cluster.MasterPort}"));
        using var local = new HttpRequestMessage(HttpMethod.Get, new Uri(cluster.HttpBase, "v1/jobs"));
        local.Headers.Add("Origin", $"http://localhost:{cluster.HttpPort}");
        Assert.Equal(HttpStatusCode.OK, (await Http.SendAsync(local)).StatusCode);
    }

    [Fact]
    public async Task WorkerIdentity_HijackRefused_LostRegistrationsForgotten_ListPaged()
    {
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string>
        {
            ["API_TOKEN"] = ClientToken,
            ["WORKER_TOKEN"] = WorkerToken,
            ["HEARTBEAT_TIMEOUT_SECONDS"] = "3",
            ["LOST_WORKER_RETENTION_SECONDS"] = "2",
        });
        var real = (await cluster.WorkerControl.ListWorkersAsync(new ListWorkersRequest())).Workers.Single();
        using var channel = GrpcChannel.ForAddress($"http://{cluster.MasterAddress}");
        var asWorker = new WorkerService.WorkerServiceClient(channel);
        var headers = new Metadata { { "authorization", $"Bearer {WorkerToken}" } };

        var hijack = await Assert.ThrowsAsync<RpcException>(() => asWorker.RegisterWorkerAsync(
            new RegisterWorkerRequest { WorkerId = real.WorkerId, Pool = "stolen", Capacity = 100_000, InstanceId = "intruder" }, headers).ResponseAsync);
        Assert.Equal(StatusCode.AlreadyExists, hijack.StatusCode);
        var after = (await cluster.WorkerControl.ListWorkersAsync(new ListWorkersRequest())).Workers.Single();
        Assert.Equal((real.Pool, real.Capacity), (after.Pool, after.Capacity));
        Assert.False((await asWorker.HeartbeatAsync(new HeartbeatRequest { WorkerId = real.WorkerId, InstanceId = "intruder" }, headers)).Known);
        using (var stream = asWorker.HeartbeatStream(headers))
        {
            // The same on the stream; a bad worker id ends it with the reason.
            await stream.RequestStream.WriteAsync(new HeartbeatStreamRequest { Heartbeat = new HeartbeatRequest { WorkerId = real.WorkerId, InstanceId = "intruder" } });
            Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None));
            Assert.False(stream.ResponseStream.Current.Heartbeat.Known);
            await stream.RequestStream.WriteAsync(new HeartbeatStreamRequest { Heartbeat = new HeartbeatRequest { WorkerId = "bad\nid", InstanceId = "intruder" } });
            var bad = await Assert.ThrowsAsync<RpcException>(() => stream.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        }


        for (var i = 0; i < 1000; i++)
        {
            await asWorker.RegisterWorkerAsync(new RegisterWorkerRequest { WorkerId = $"fake-{i:D4}", Pool = "fake", Capacity = 1, InstanceId = "fake" }, headers);
        }

        var first = await cluster.WorkerControl.ListWorkersAsync(new ListWorkersRequest { PageSize = 100 });
        Assert.Equal(100, first.Workers.Count);
        Assert.NotEmpty(first.NextPageToken);
        Assert.Equal(1001, await CountWorkersAsync(cluster));

        // Never heartbeating, they are lost, then forgotten; the real worker stays.
        await Eventually.Until(() => CountWorkersAsync(cluster), n => n == 1, TimeSpan.FromSeconds(30), "the fake registrations forgotten");
        Assert.Equal(real.WorkerId, (await cluster.WorkerControl.ListWorkersAsync(new ListWorkersRequest())).Workers.Single().WorkerId);
        Assert.Equal(TaskState.Succeeded, (await RunAsync(cluster, Command("true"))).Job.State);
    }

    [Fact]
    public async Task SmallerHoles_LabelFiltersCappedControlCharactersEscapedFramingRefusedShortTokensRefused()
    {
        await using var cluster = await Cluster.StartAsync(1);

        var filters = new ListJobsRequest();
        for (var i = 0; i < 1000; i++)
        {
            filters.Labels[$"k{i}"] = "v";
        }

        Assert.Equal(StatusCode.InvalidArgument, (await Assert.ThrowsAsync<RpcException>(() => cluster.Jobs.ListJobsAsync(filters).ResponseAsync)).StatusCode);

        // A remote string that would retitle the terminal and recolour it reaches distctl status escaped.
        var (job, _) = await RunAsync(cluster, Command("echo", "\u001b]0;pwned\u0007\u001b[31mred\u202e"));
        var status = await cluster.DistctlAsync("status", job.Id);
        Assert.Equal(0, status.ExitCode);
        Assert.DoesNotContain('\u001b', status.Stdout);
        Assert.DoesNotContain('\u0007', status.Stdout);
        Assert.DoesNotContain('\u202e', status.Stdout);
        Assert.Contains("\\x1b]0;pwned\\x07", status.Stdout, StringComparison.Ordinal);

        // Task output under --wait stays as the task wrote it.
        var wait = await cluster.DistctlAsync("run", "--wait", "--", "printf", "\u001b[1mbold");
        Assert.Equal("\u001b[1mbold", wait.Stdout);

        var dashboard = await Http.GetAsync(new Uri(cluster.HttpBase, "ui/"));
        Assert.Contains("frame-ancestors 'none'", string.Join(";", dashboard.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);

        var master = await ProcessRunner.RunAsync(RepoPaths.Bin("master"), [], new Dictionary<string, string?>
        {
            ["API_TOKEN"] = "short-token",
            ["MASTER_ADDRESS"] = $"127.0.0.1:{FreePort.Next()}",
            ["MASTER_HTTP_ADDRESS"] = "off",
            ["MASTER_DB_PATH"] = Path.Combine(Path.GetTempPath(), $"never-{Guid.NewGuid():N}.db"),
        });
        Assert.Equal(2, master.ExitCode);
        Assert.Contains("API_TOKEN is too short (11 characters)", master.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("short-token", master.Stderr + master.Stdout, StringComparison.Ordinal);
    }

    public static TheoryData<string> AddressesEmbeddingMetadata() =>
    [
        "[::ffff:169.254.169.254]", "[::a9fe:a9fe]", "[64:ff9b::a9fe:a9fe]", "[64:ff9b:1:a9fe:a9:fe00::]", "[2002:a9fe:a9fe::1]",
        "[2001:0:a9fe:a9fe::]", "[fd00::5efe:a9fe:a9fe]",
    ];

    [Theory]
    [MemberData(nameof(AddressesEmbeddingMetadata))]
    public async Task HttpTask_Ipv6FormsEmbeddingTheMetadataAddress_Refused(string host)
    {
        var cluster = allowList;
        var spec = new JobSpec { Tasks = { new TaskSpec { Http = new HttpSpec { Url = $"http://{host}/latest/meta-data/" } } } };

        try
        {
            var job = (await cluster.Cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;
            var done = await cluster.Cluster.WaitForJobAsync(job.Id, TimeSpan.FromSeconds(30));
            Assert.Equal(TaskState.Failed, done.State);
            Assert.Contains("169.254.169.254", done.Tasks[0].Error, StringComparison.Ordinal);
        }
        catch (RpcException refused)
        {
            Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
            Assert.Contains("169.254.169.254", refused.Status.Detail, StringComparison.Ordinal);
        }
    }

    private static JobSpec Job(CommandSpec command) => new() { Tasks = { new TaskSpec { Command = command } } };

    private static JobSpec Command(string program, params string[] args) => Job(new CommandSpec { Program = program, Args = { args } });

    private static JobSpec Shell(string script) => Command("sh", "-c", script);

    private static async Task<(Job Job, string Output)> RunAsync(Cluster cluster, JobSpec spec)
    {
        var job = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;
        var done = await cluster.WaitForJobAsync(job.Id, TimeSpan.FromSeconds(60));
        var output = await cluster.OutputAsync(job.Id);
        return (done, output.TryGetValue(0, out var task) ? task.Stdout + task.Stderr : "");
    }

    private static async Task<int> CountWorkersAsync(Cluster cluster)
    {
        var count = 0;
        var request = new ListWorkersRequest { PageSize = 1000 };
        do
        {
            var page = await cluster.WorkerControl.ListWorkersAsync(request);
            count += page.Workers.Count;
            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);
        return count;
    }

    /// <summary>Processes whose command line holds any of <paramref name="markers"/> (zombies have none).</summary>
    private static List<string> Survivors(params string[] markers)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (markers.Any(m => cmdline.Contains(m, StringComparison.Ordinal)))
                {
                    found.Add($"{Path.GetFileName(dir)}: {cmdline}");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }

        return found;
    }

    private static (long ResidentMb, long PeakMb) Memory(int pid)
    {
        var lines = File.ReadAllLines($"/proc/{pid}/status");
        long Field(string name) => long.Parse(lines.Single(l => l.StartsWith(name + ":", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        return (Field("VmRSS"), Field("VmHWM"));
    }

    /// <summary>Posts one gRPC frame over h2c and returns the call's status (trailers-only or in the trailers).</summary>
    private static async Task<StatusCode> PostGrpcAsync(Cluster cluster, string method, byte[] frame, string? token, string? host = null, string? origin = null)
    {
        using var handler = new SocketsHttpHandler();
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{cluster.MasterPort}{method}")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            // Streamed without a Content-Length, as gRPC clients send (a declared oversized length is refused
            // by Kestrel before anything else runs).
            Content = new UnsizedContent(frame),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (host is not null)
        {
            request.Headers.Host = host;
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (response.Headers.TryGetValues("grpc-status", out var early))
        {
            return (StatusCode)int.Parse(early.Single(), CultureInfo.InvariantCulture);
        }

        await response.Content.CopyToAsync(Stream.Null);
        return response.TrailingHeaders.TryGetValues("grpc-status", out var late)
            ? (StatusCode)int.Parse(late.Single(), CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"no grpc-status (HTTP {(int)response.StatusCode})");
    }

    private static async Task<HttpStatusCode> PostJsonAsync(Cluster cluster, byte[] json, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(cluster.HttpBase, "v1/jobs")) { Content = new ByteArrayContent(json) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        // Wait for the server's word before sending the body, as careful clients do; a refusal then costs no upload.
        request.Headers.ExpectContinue = true;
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await Http.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>A request body with no declared length (sent in DATA frames as it is read).</summary>
    private sealed class UnsizedContent(byte[] data) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(data).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>A folder others may enter (as /etc/distexec would be), holding files with the modes a test gives.</summary>
    private sealed class SecretDir : IDisposable
    {
        private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("distexec-secrets-");

        public SecretDir() =>
            File.SetUnixFileMode(_dir.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        public string Write(string name, string content, UnixFileMode mode)
        {
            var path = Path.Combine(_dir.FullName, name);
            File.WriteAllText(path, content);
            File.SetUnixFileMode(path, mode);
            return path;
        }

        public void Dispose() => _dir.Delete(recursive: true);
    }

    /// <summary>One cluster for the attacks that change nothing: only a script and echo may run there.</summary>
    public sealed class AllowListFixture : IAsyncLifetime
    {
        private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("distexec-hostile-");

        public Cluster Cluster { get; private set; } = null!;

        public string Script => Path.Combine(_dir.FullName, "greet.sh");

        public async Task InitializeAsync()
        {
            const UnixFileMode Open = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
            File.SetUnixFileMode(_dir.FullName, Open);
            await File.WriteAllTextAsync(Script, "#!/bin/sh\necho script says \"$GREETING\"\n");
            File.SetUnixFileMode(Script, Open);
            Cluster = await Cluster.StartAsync(1, new Dictionary<string, string> { ["EXECUTOR_COMMAND_ALLOWED"] = $"{Script},echo" });
        }

        public async Task DisposeAsync()
        {
            if (Cluster is not null)
            {
                await Cluster.DisposeAsync();
            }

            _dir.Delete(recursive: true);
        }
    }
}
