using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Net.Client;

namespace DistributedExecutor.Tests.Master;

/// <summary>
/// A master with a client token and a separate worker token: every RPC of every service, found through the
/// generated descriptors, refuses a call without a token, and each role's token is refused by the other's calls.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AuthenticationIntegrationTests(AuthenticationIntegrationTests.Fixture fixture) : IClassFixture<AuthenticationIntegrationTests.Fixture>
{
    private const string ClientToken = "client-s3cret-for-tests";
    private const string WorkerToken = "worker-s3cret-for-tests";

    private static readonly ServiceDescriptor[] Services = [JobService.Descriptor, WorkerService.Descriptor, ScheduleService.Descriptor];

    private static readonly HashSet<string> WorkerCalls = ["RegisterWorker", "Heartbeat", "HeartbeatStream"];

    public static TheoryData<string> EveryMethod() => [.. Services.SelectMany(s => s.Methods).Select(m => $"{m.Service.FullName}/{m.Name}")];

    [Theory]
    [MemberData(nameof(EveryMethod))]
    public async Task EveryRpc_WithoutToken_Unauthenticated(string method)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(method, token: null));

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
    }

    [Theory]
    [MemberData(nameof(EveryMethod))]
    public async Task EveryRpc_WrongToken_Unauthenticated(string method)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(method, token: "not-the-token"));

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
    }

    [Theory]
    [MemberData(nameof(EveryMethod))]
    public async Task EveryRpc_OtherRolesToken_PermissionDenied(string method)
    {
        var other = WorkerCalls.Contains(method.Split('/')[1]) ? ClientToken : WorkerToken;

        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(method, other));

        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
    }

    [Fact]
    public void Services_HaveTheMethodsThisSuiteExpects()
    {
        // Guards the enumeration itself: a service with no methods would make the theories above vacuous.
        Assert.Equal(12, JobService.Descriptor.Methods.Count);
        Assert.Equal(4, WorkerService.Descriptor.Methods.Count);
        Assert.Equal(7, ScheduleService.Descriptor.Methods.Count);
    }

    [Fact]
    public async Task Distctl_ClientTokenFromFlagEnvOrFile_LetIn_WorkerTokenRefused()
    {
        var tokenFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(tokenFile, ClientToken + "\n");
        try
        {
            var anonymous = await fixture.Cluster.DistctlAsync("list");
            var flag = await fixture.Cluster.DistctlAsync("--token", ClientToken, "run", "--wait", "--", "echo", "let in");
            var file = await fixture.Cluster.DistctlAsync("--token-file", tokenFile, "list");
            var asWorker = await fixture.Cluster.DistctlAsync("--token", WorkerToken, "run", "--", "echo", "no");

            Assert.True(anonymous.ExitCode == 125, anonymous.ToString());
            Assert.Contains("unauthenticated", anonymous.Stderr, StringComparison.Ordinal);
            Assert.True(flag.ExitCode == 0, flag.ToString());
            Assert.Equal("let in\n", flag.Stdout);
            Assert.True(file.ExitCode == 0, file.ToString());
            Assert.True(asWorker.ExitCode == 125, asWorker.ToString());
            Assert.Contains("permission denied", asWorker.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(tokenFile);
        }
    }

    [Fact]
    public async Task Worker_WithWorkerToken_Registers_WithWrongTokenNeverDoes()
    {
        var id = $"wrong-token-{Guid.NewGuid():N}";
        fixture.Cluster.StartWorker(id, "wrong", new Dictionary<string, string> { ["WORKER_TOKEN"] = "guess-a-long-enough-token" });
        var intruder = fixture.Cluster.Workers.Single(w => w.Name == id);
        await Eventually.Until(() => Task.FromResult(intruder.Output), o => o.Contains("Unauthenticated", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the refused worker to say so");

        var workers = await fixture.Cluster.WorkerControl.ListWorkersAsync(new ListWorkersRequest());

        Assert.Contains(workers.Workers, w => w.Pool == "default" && w.State == WorkerState.Alive);
        Assert.DoesNotContain(workers.Workers, w => w.WorkerId == id);
        Assert.DoesNotContain(ClientToken, fixture.Cluster.Logs(), StringComparison.Ordinal);
        Assert.DoesNotContain(WorkerToken, fixture.Cluster.Logs(), StringComparison.Ordinal);
        Assert.DoesNotContain("guess-a-long-enough-token", intruder.Output, StringComparison.Ordinal);
    }

    private async Task CallAsync(string method, string? token)
    {
        var (service, name) = (method.Split('/')[0], method.Split('/')[1]);
        var descriptor = Services.Single(s => s.FullName == service).FindMethodByName(name);
        using var channel = GrpcChannel.ForAddress($"http://{fixture.Cluster.MasterAddress}");
        var marshaller = Marshallers.Create<byte[]>(b => b, b => b);
        var type = descriptor.IsClientStreaming ? MethodType.DuplexStreaming : descriptor.IsServerStreaming ? MethodType.ServerStreaming : MethodType.Unary;
        var grpcMethod = new Method<byte[], byte[]>(type, service, name, marshaller, marshaller);
        var headers = new Metadata();
        if (token is not null)
        {
            headers.Add("authorization", $"Bearer {token}");
        }

        var options = new CallOptions(headers, DateTime.UtcNow.AddSeconds(10));
        if (descriptor.IsClientStreaming)
        {
            // Refused when the call opens, before any message is sent.
            using var call = channel.CreateCallInvoker().AsyncDuplexStreamingCall(grpcMethod, null, options);
            await call.ResponseStream.MoveNext(CancellationToken.None);
        }
        else if (descriptor.IsServerStreaming)
        {
            using var call = channel.CreateCallInvoker().AsyncServerStreamingCall(grpcMethod, null, options, []);
            await call.ResponseStream.MoveNext(CancellationToken.None);
        }
        else
        {
            await channel.CreateCallInvoker().AsyncUnaryCall(grpcMethod, null, options, []);
        }
    }

    public sealed class Fixture : IAsyncLifetime
    {
        public Cluster Cluster { get; private set; } = null!;

        public async Task InitializeAsync() =>
            Cluster = await Cluster.StartAsync(workers: 1, new Dictionary<string, string> { ["API_TOKEN"] = ClientToken, ["WORKER_TOKEN"] = WorkerToken });

        public async Task DisposeAsync() => await Cluster.DisposeAsync();
    }
}
