using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace DistributedExecutor.Tests.Master;

/// <summary>
/// Hostile and broken requests through the real gRPC API of a running master: each gets the right status and a
/// message a person can act on, nothing is left half-written, and master and worker keep serving.
/// </summary>
[Trait("Category", "Integration")]
public sealed class BadInputTests(BadInputTests.Fixture fixture) : IClassFixture<BadInputTests.Fixture>
{
    private Cluster Cluster => fixture.Cluster;

    public static TheoryData<string> SubmissionCases() => [.. Submissions.Keys];

    /// <summary>name → (request, expected status, words the message must contain).</summary>
    private static readonly Dictionary<string, (Func<string, SubmitJobRequest> Request, StatusCode Code, string Says)> Submissions = new()
    {
        ["no spec"] = (_ => new SubmitJobRequest(), StatusCode.InvalidArgument, "spec is required"),
        ["no tasks"] = (_ => Job(), StatusCode.InvalidArgument, "at least one task"),
        ["task without executor"] = (_ => Job(new TaskSpec()), StatusCode.InvalidArgument, "no executor spec"),
        ["empty program"] = (_ => Command(""), StatusCode.InvalidArgument, "command.program is empty"),
        ["blank program"] = (_ => Command("   "), StatusCode.InvalidArgument, "command.program is empty"),
        ["NUL in program"] = (_ => Command("ec\0ho"), StatusCode.InvalidArgument, "NUL"),
        ["NUL in argument"] = (_ => Command("echo", "a\0b"), StatusCode.InvalidArgument, "NUL"),
        ["1 MB of args"] = (_ => Command("echo", new string('x', 1024 * 1024)), StatusCode.InvalidArgument, "at most 1048576 are allowed"),
        ["5000 args"] = (_ => Command("echo", [.. Enumerable.Repeat("a", 5000)]), StatusCode.InvalidArgument, "at most 4096"),
        ["8 KB program name"] = (_ => Command(new string('p', 8192)), StatusCode.InvalidArgument, "at most 4096 are allowed"),
        ["invalid UTF-8 (U+FFFD) in argument"] = (_ => Command("echo", "bad \uFFFD text"), StatusCode.InvalidArgument, "not valid UTF-8"),
        ["env name with ="] = (_ => WithEnv("A=B", "x"), StatusCode.InvalidArgument, "invalid name"),
        ["empty env name"] = (_ => WithEnv("", "x"), StatusCode.InvalidArgument, "invalid name"),
        ["NUL in env value"] = (_ => WithEnv("A", "x\0y"), StatusCode.InvalidArgument, "NUL"),
        ["300 KB of env"] = (_ => WithEnv("BIG", new string('v', 300 * 1024)), StatusCode.InvalidArgument, "command.env takes"),
        ["relative working dir"] = (_ => Task(new CommandSpec { Program = "echo", WorkingDir = "tmp" }), StatusCode.InvalidArgument, "absolute path"),
        ["negative timeout"] = (_ => Timed(new Duration { Seconds = -5 }), StatusCode.InvalidArgument, "must be positive"),
        ["zero timeout"] = (_ => Timed(new Duration()), StatusCode.InvalidArgument, "must be positive"),
        ["ten-day timeout"] = (_ => Timed(new Duration { Seconds = 864_000 }), StatusCode.InvalidArgument, "exceeds the maximum"),
        ["nanos out of range"] = (_ => Timed(new Duration { Seconds = 1, Nanos = 2_000_000_000 }), StatusCode.InvalidArgument, "not a valid duration"),
        ["seconds past Duration's range"] = (_ => Timed(new Duration { Seconds = long.MaxValue }), StatusCode.InvalidArgument, "not a valid duration"),
        ["mixed-sign duration"] = (_ => Timed(new Duration { Seconds = 5, Nanos = -1 }), StatusCode.InvalidArgument, "not a valid duration"),
        ["pool with path"] = (_ => InPool("../../etc"), StatusCode.InvalidArgument, "a pool name is"),
        ["pool upper case"] = (_ => InPool("Default"), StatusCode.InvalidArgument, "a pool name is"),
        ["pool 300 characters"] = (_ => InPool(new string('p', 300)), StatusCode.InvalidArgument, "a pool name is"),
        ["pool with NUL"] = (_ => InPool("a\0b"), StatusCode.InvalidArgument, "a pool name is"),
        ["too many tasks"] = (_ => Job([.. Enumerable.Range(0, 1001).Select(_ => new TaskSpec { Command = new CommandSpec { Program = "true" } })]), StatusCode.InvalidArgument, "at most 1000 tasks"),
        ["blocked by name"] = (_ => Command("rm", "-rf", "/"), StatusCode.PermissionDenied, "blocked"),
        ["blocked by path"] = (_ => Command("/bin/rm"), StatusCode.PermissionDenied, "blocked"),
        ["blocked through .."] = (_ => Command("/bin/../bin/rm"), StatusCode.PermissionDenied, "blocked"),
        ["blocked through deep .."] = (_ => Command("/usr/bin/../../usr/bin/rm"), StatusCode.PermissionDenied, "blocked"),
        ["blocked with doubled slashes"] = (_ => Command("//usr//bin///rm"), StatusCode.PermissionDenied, "blocked"),
        ["blocked relative to working dir"] = (_ => Task(new CommandSpec { Program = "./rm", WorkingDir = "/usr/bin" }), StatusCode.PermissionDenied, "blocked"),
        ["blocked through a symlink"] = (dir => Command(Path.Combine(dir, "innocent")), StatusCode.PermissionDenied, "blocked"),
        ["blocked through PATH"] = (dir => Task(new CommandSpec { Program = "ls", Env = { ["PATH"] = dir } }), StatusCode.PermissionDenied, "blocked"),
        ["unknown executor"] = (_ => Job(new TaskSpec { Plugin = new PluginSpec { Executor = "teleport" } }), StatusCode.InvalidArgument, "is unknown"),
        ["plug-in without a name"] = (_ => Job(new TaskSpec { Plugin = new PluginSpec() }), StatusCode.InvalidArgument, "plugin.executor is empty"),
        ["file URL"] = (_ => Http("file:///etc/passwd"), StatusCode.InvalidArgument, "only http and https"),
        ["gopher URL"] = (_ => Http("gopher://127.0.0.1:25/"), StatusCode.InvalidArgument, "only http and https"),
        ["relative URL"] = (_ => Http("/admin"), StatusCode.InvalidArgument, "not an absolute URL"),
        ["URL with credentials"] = (_ => Http("http://admin:pw@127.0.0.1/"), StatusCode.InvalidArgument, "credentials"),
        ["SSRF cloud metadata"] = (_ => Http("http://169.254.169.254/latest/meta-data/"), StatusCode.PermissionDenied, "metadata"),
        ["SSRF metadata as mapped IPv6"] = (_ => Http("http://[::ffff:169.254.169.254]/"), StatusCode.PermissionDenied, "metadata"),
        ["SSRF AWS IPv6 metadata"] = (_ => Http("http://[fd00:ec2::254]/"), StatusCode.PermissionDenied, "metadata"),
        ["SSRF link-local"] = (_ => Http("http://169.254.10.20/"), StatusCode.PermissionDenied, "link-local"),
        ["SSRF 0.0.0.0"] = (_ => Http("http://0.0.0.0:50051/"), StatusCode.PermissionDenied, "unspecified"),
        ["200 headers"] = (_ => HttpWith(h => { for (var i = 0; i < 200; i++) { h.Headers[$"X-{i}"] = "v"; } }), StatusCode.InvalidArgument, "at most 100"),
        ["100 KB header"] = (_ => HttpWith(h => h.Headers["X-Big"] = new string('h', 100 * 1024)), StatusCode.InvalidArgument, "at most 65536"),
        ["header CRLF injection"] = (_ => HttpWith(h => h.Headers["X-A"] = "v\r\nX-Injected: 1"), StatusCode.InvalidArgument, "line break"),
        ["header name with space"] = (_ => HttpWith(h => h.Headers["Bad Name"] = "v"), StatusCode.InvalidArgument, "invalid name"),
        ["Host header override"] = (_ => HttpWith(h => h.Headers["Host"] = "internal"), StatusCode.InvalidArgument, "may not set Host"),
        ["method TRACE"] = (_ => HttpWith(h => h.Method = "TRACE"), StatusCode.InvalidArgument, "http.method"),
        ["expected status 700"] = (_ => HttpWith(h => h.ExpectedStatus.Add(new StatusRange { Min = 200, Max = 700 })), StatusCode.InvalidArgument, "within 100-599"),
        ["negative response cap"] = (_ => HttpWith(h => h.ResponseCapBytes = -1), StatusCode.InvalidArgument, "response_cap_bytes"),
        ["99 retries"] = (_ => HttpWith(h => h.MaxRetries = 99), StatusCode.InvalidArgument, "max_retries"),
        ["5 MiB body"] = (_ => HttpWith(h => h.Body = ByteString.CopyFrom(new byte[5 * 1024 * 1024])), StatusCode.InvalidArgument, "http.body is"),
    };

    public static TheoryData<string, string> ReadCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var rpc in (string[])["GetJob", "CancelJob", "WatchJob"])
        {
            foreach (var id in (string[])["", "   ", "not-a-uuid", "../../etc/passwd", "' OR 1=1 --", "a\0b", new string('f', 10_000), "{00000000-0000-0000-0000-00000000000}"])
            {
                data.Add(rpc, id);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SubmissionCases))]
    public async Task Submit_HostileOrBroken_ExpectedStatusAndActionableMessage(string name)
    {
        var (request, code, says) = Submissions[name];
        var before = Cluster.StoredJobs();

        var ex = await Assert.ThrowsAsync<RpcException>(() => Cluster.Jobs.SubmitJobAsync(request(fixture.TrickDir)).ResponseAsync);

        Assert.True(ex.StatusCode == code, $"{name}: {ex.StatusCode} {ex.Status.Detail}");
        Assert.Contains(says, ex.Status.Detail, StringComparison.Ordinal);
        Assert.True(ex.Status.Detail.Length < 4096, $"{name}: message of {ex.Status.Detail.Length} characters");
        Assert.DoesNotContain('\0', ex.Status.Detail);
        Assert.Equal(before, Cluster.StoredJobs());
    }

    [Theory]
    [MemberData(nameof(ReadCases))]
    public async Task ReadRpc_MalformedJobId_InvalidArgument(string rpc, string id)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Read(rpc, id));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("job_id", ex.Status.Detail, StringComparison.Ordinal);
        Assert.True(ex.Status.Detail.Length < 300);
    }

    [Theory]
    [InlineData("GetJob")]
    [InlineData("CancelJob")]
    [InlineData("WatchJob")]
    public async Task ReadRpc_WellFormedUnknownId_NotFound(string rpc)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Read(rpc, Guid.NewGuid().ToString()));

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
    }

    [Theory]
    [InlineData(-1, "", TaskState.Unspecified, "page_size")]
    [InlineData(5000, "", TaskState.Unspecified, "page_size")]
    [InlineData(10, "garbage", TaskState.Unspecified, "page_token")]
    [InlineData(10, "-5", TaskState.Unspecified, "page_token")]
    [InlineData(10, "", (TaskState)99, "not a task state")]
    public async Task ListJobs_BadPaging_InvalidArgument(int pageSize, string token, TaskState state, string says)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = pageSize, PageToken = token, State = state }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains(says, ex.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f })]
    [InlineData(new byte[] { 0x0a, 0x05, 0x0a, 0x03 })]
    [InlineData(new byte[] { 0xff })]
    public async Task SubmitJob_BytesThatAreNotAMessage_InvalidArgument(byte[] body)
    {
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://{Cluster.MasterAddress}");
        var marshaller = Marshallers.Create<byte[]>(b => b, b => b);
        var method = new Method<byte[], byte[]>(MethodType.Unary, "distexec.v1.JobService", "SubmitJob", marshaller, marshaller);

        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.CreateCallInvoker().AsyncUnaryCall(method, null, default, body).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("not a valid distexec.v1.SubmitJobRequest message", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmitJob_GzipCompressed_Accepted()
    {
        // A compressed message is gRPC's to read: the malformed-request check must not take it for a cut-short one.
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://{Cluster.MasterAddress}", new Grpc.Net.Client.GrpcChannelOptions
        {
            CompressionProviders = [new Grpc.Net.Compression.GzipCompressionProvider(System.IO.Compression.CompressionLevel.Fastest)],
        });
        var jobs = new JobService.JobServiceClient(channel);
        var headers = new Metadata { { "grpc-internal-encoding-request", "gzip" } };

        var response = await jobs.SubmitJobAsync(Command("echo", new string('z', 4096)), headers, DateTime.UtcNow.AddSeconds(20));

        Assert.False(string.IsNullOrEmpty(response.Job.Id));
    }

    /// <summary>Framings whose 5-byte header lies about the message: each gets a status that says what is wrong, never UNKNOWN.</summary>
    public static TheoryData<string, byte[], StatusCode, string> LyingFramings() => new()
    {
        // A worker's heartbeat stream (client streaming: its first message is waited for in place, never buffered).
        { "stream: claims 1 GiB", [0, 0x40, 0, 0, 0, .. new byte[64]], StatusCode.ResourceExhausted, "exceeds" },
        { "stream: claims 1,000 bytes, carries 64", [0, 0, 0, 0x03, 0xe8, .. new byte[64]], StatusCode.InvalidArgument, "ended" },
        // A length past MAX_REQUEST_BYTES (16 MiB), with a few bytes behind it.
        { "claims 1 GiB", [0, 0x40, 0, 0, 0, .. new byte[64]], StatusCode.ResourceExhausted, "MAX_REQUEST_BYTES" },
        { "claims 4 GiB - 1", [0, 0xff, 0xff, 0xff, 0xff, .. new byte[64]], StatusCode.ResourceExhausted, "MAX_REQUEST_BYTES" },
        // A length the body never reaches: it ends 64 bytes in.
        { "claims 1,000 bytes, carries 64", [0, 0, 0, 0x03, 0xe8, .. new byte[64]], StatusCode.InvalidArgument, "ended" },
        { "claims 100 KiB, carries 64", [0, 0, 0x01, 0x90, 0x00, .. new byte[64]], StatusCode.InvalidArgument, "ended" },
        // A header cut short.
        { "three bytes of a header", [0, 0, 0], StatusCode.InvalidArgument, "ended" },
    };

    [Theory]
    [MemberData(nameof(LyingFramings))]
    public async Task FrameHeaderThatLies_ClearStatus(string name, byte[] body, StatusCode code, string says)
    {
        // Raw HTTP/2 (h2c), since a gRPC client always frames its messages truthfully. Each request has its own deadline:
        // a master that waited for bytes that never come must fail this test, not hang it.
        using var client = new HttpClient(new SocketsHttpHandler()) { Timeout = TimeSpan.FromSeconds(20) };
        var path = name.StartsWith("stream:", StringComparison.Ordinal) ? "distexec.v1.WorkerService/HeartbeatStream" : "distexec.v1.JobService/SubmitJob";
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://{Cluster.MasterAddress}/{path}")
        {
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("TE", "trailers");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);

        // A trailers-only answer carries grpc-status in its headers; otherwise it is in the trailers.
        string? Header(string key) =>
            response.Headers.TryGetValues(key, out var values) || response.TrailingHeaders.TryGetValues(key, out values) ? values.First() : null;
        var status = Header("grpc-status");
        var message = Uri.UnescapeDataString(Header("grpc-message") ?? "");
        Assert.True(status == ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture), $"{name}: grpc-status {status} ({message}), expected {code}");
        Assert.Contains(says, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WatchJob_NegativeOffset_InvalidArgument()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = Cluster.Jobs.WatchJob(new WatchJobRequest { JobId = Guid.NewGuid().ToString(), FromOffset = -1 });
            await call.ResponseStream.MoveNext(CancellationToken.None);
        });

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
    }

    [Theory]
    [InlineData("", 1, "default", "worker_id is required")]
    [InlineData("w\u0001", 1, "default", "printable")]
    [InlineData("w", 0, "default", "capacity")]
    [InlineData("w", 1, "../x", "a pool name is")]
    public async Task RegisterWorker_Malformed_InvalidArgument(string id, int capacity, string pool, string says)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Cluster.WorkerControl.RegisterWorkerAsync(new RegisterWorkerRequest { WorkerId = id, Capacity = capacity, Pool = pool }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains(says, ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeartbeatStream_CarryingMoreThanMaxRequestBytes_EveryHeartbeatAnswered()
    {
        // A worker's heartbeat stream lives for days, so the master must not keep what it has read of it: a check
        // that buffered each request's body to look at its first message kept all of a stream's past heartbeats,
        // until the stream passed what one request may hold and broke. 60,000 heartbeats of about 300 bytes
        // (18 MB, past the 16 MiB limit) on one stream, every one answered.
        const int Heartbeats = 60_000;
        var heartbeat = new HeartbeatStreamRequest
        {
            Heartbeat = new HeartbeatRequest { WorkerId = "long-lived-" + new string('x', 230), InstanceId = new string('i', 40), RunningTasks = 1 },
        };
        Assert.True(heartbeat.CalculateSize() > 16 * 1024 * 1024 / Heartbeats, "each heartbeat too small to pass the limit");
        using var stream = Cluster.WorkerControl.HeartbeatStream();
        var writer = System.Threading.Tasks.Task.Run(async () =>
        {
            for (var i = 0; i < Heartbeats; i++)
            {
                await stream.RequestStream.WriteAsync(heartbeat);
            }

            await stream.RequestStream.CompleteAsync();
        });

        var answered = 0;
        try
        {
            while (await stream.ResponseStream.MoveNext(CancellationToken.None))
            {
                answered++;
            }
        }
        catch (RpcException ex)
        {
            Assert.Fail($"the stream broke after {answered} of {Heartbeats} heartbeats were answered ({answered * heartbeat.CalculateSize() / 1024} KiB sent): {ex.Status}");
        }

        await writer;
        Assert.Equal(Heartbeats, answered);
    }

    [Fact]
    public async Task HeartbeatStream_OneMessageLargerThanMaxRequestBytes_ResourceExhausted()
    {
        // A stream as a whole has no size limit; each of its messages still has MAX_REQUEST_BYTES (16 MiB here).
        using var stream = Cluster.WorkerControl.HeartbeatStream();
        var huge = new HeartbeatStreamRequest { Heartbeat = new HeartbeatRequest { WorkerId = "w", InstanceId = new string('i', 17 * 1024 * 1024) } };

        // The master answers once it has read the message's length, while the client is still sending it: the answer
        // is read from the response, and the unfinished write fails (with the call's end) as it may.
        var write = stream.RequestStream.WriteAsync(huge);
        var ex = await Assert.ThrowsAsync<RpcException>(() => stream.ResponseStream.MoveNext(CancellationToken.None));
        try
        {
            await write.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            // Known gap, not asserted: Kestrel does not always reset a stream it answered while the client is still
            // blocked sending (a clean-clone run waited out the 30 s once). The call is ended from this side instead.
            stream.Dispose();
        }
        catch (Exception)
        {
            // Ended with the call: the master did not read the rest.
        }

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Fact]
    public async Task AfterEveryBadInput_MasterAndWorkerStillServe_StoreIntact()
    {
        foreach (var (request, _, _) in Submissions.Values)
        {
            await Assert.ThrowsAsync<RpcException>(() => Cluster.Jobs.SubmitJobAsync(request(fixture.TrickDir)).ResponseAsync);
        }

        var result = await Cluster.DistctlAsync("run", "--wait", "--", "echo", "still serving");

        Assert.True(result.ExitCode == 0, result + Cluster.Logs());
        Assert.Equal("still serving\n", result.Stdout);
        Assert.False(Cluster.Master!.HasExited);
        Assert.All(Cluster.Workers, w => Assert.False(w.HasExited));
        Assert.Equal("ok", Cluster.StoreScalar("PRAGMA integrity_check"));
        Assert.Equal(0L, Cluster.StoreScalar("SELECT COUNT(*) FROM jobs WHERE accepted = 0"));
        Assert.Equal(0L, Cluster.StoreScalar("SELECT COUNT(*) FROM tasks t LEFT JOIN jobs j ON j.id = t.job_id WHERE j.id IS NULL"));
    }

    private async Task Read(string rpc, string id)
    {
        switch (rpc)
        {
            case "GetJob":
                await Cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = id });
                break;
            case "CancelJob":
                await Cluster.Jobs.CancelJobAsync(new CancelJobRequest { JobId = id });
                break;
            default:
                using (var call = Cluster.Jobs.WatchJob(new WatchJobRequest { JobId = id }))
                {
                    await call.ResponseStream.MoveNext(CancellationToken.None);
                }

                break;
        }
    }

    private static SubmitJobRequest Job(params TaskSpec[] tasks)
    {
        var spec = new JobSpec();
        spec.Tasks.AddRange(tasks);
        return new SubmitJobRequest { Spec = spec };
    }

    private static SubmitJobRequest Task(CommandSpec command) => Job(new TaskSpec { Command = command });

    private static SubmitJobRequest Command(string program, params string[] args) => Task(new CommandSpec { Program = program, Args = { args } });

    private static SubmitJobRequest WithEnv(string name, string value) => Task(new CommandSpec { Program = "echo", Env = { [name] = value } });

    private static SubmitJobRequest Timed(Duration timeout) => Job(new TaskSpec { Command = new CommandSpec { Program = "echo" }, Timeout = timeout });

    private static SubmitJobRequest InPool(string pool)
    {
        var request = Command("echo");
        request.Spec.Pool = pool;
        return request;
    }

    private static SubmitJobRequest Http(string url) => Job(new TaskSpec { Http = new HttpSpec { Url = url } });

    private static SubmitJobRequest HttpWith(Action<HttpSpec> change)
    {
        var spec = new HttpSpec { Url = "http://127.0.0.1:9/" };
        change(spec);
        return Job(new TaskSpec { Http = spec });
    }

    /// <summary>A master with a blocked program and a worker, plus a folder of path tricks.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        public string TrickDir { get; } = Directory.CreateTempSubdirectory("distexec-tricks-").FullName;

        public Cluster Cluster { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            File.CreateSymbolicLink(Path.Combine(TrickDir, "innocent"), "/bin/rm");
            File.CreateSymbolicLink(Path.Combine(TrickDir, "ls"), "/usr/bin/rm");
            Cluster = await Cluster.StartAsync(workers: 1, new Dictionary<string, string>
            {
                ["EXECUTOR_COMMAND_BLOCKED"] = "rm",
                ["MAX_TASKS_PER_JOB"] = "1000",
                ["MAX_CONCURRENT_JOBS"] = "1000000",
            });
        }

        public async Task DisposeAsync()
        {
            await Cluster.DisposeAsync();
            Directory.Delete(TrickDir, recursive: true);
        }
    }
}
