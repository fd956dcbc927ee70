using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Worker.ControlPlane;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace DistributedExecutor.Tests.Worker;

/// <summary>
/// A worker's heartbeats (<see cref="HeartbeatLink"/>) against a scripted master: one stream for many heartbeats,
/// a call per heartbeat against a master without the stream, a new stream after one broke or went silent.
/// </summary>
public sealed class HeartbeatLinkTests
{
    [Fact]
    public async Task Heartbeats_GoOnOneStream_EachAnsweredInOrder()
    {
        var master = new ScriptedMaster();
        var link = Link(master);

        var answers = new List<bool>();
        foreach (var id in new[] { "known", "stranger", "known" })
        {
            answers.Add(await link.SendAsync(new HeartbeatRequest { WorkerId = id }, CancellationToken.None));
        }

        Assert.Equal([true, false, true], answers);
        Assert.Equal((1, 0), (master.StreamsOpened, master.UnaryCalls));
        Assert.False(link.Unary);
    }

    [Fact]
    public async Task OlderMaster_WithoutTheStream_EveryHeartbeatIsACallOfItsOwn()
    {
        var master = new ScriptedMaster { HasStream = false };
        var link = Link(master);

        Assert.True(await link.SendAsync(new HeartbeatRequest { WorkerId = "known" }, CancellationToken.None));
        Assert.False(await link.SendAsync(new HeartbeatRequest { WorkerId = "stranger" }, CancellationToken.None));

        Assert.Equal((1, 2), (master.StreamsOpened, master.UnaryCalls));
        Assert.True(link.Unary);
    }

    [Fact]
    public async Task BrokenStream_ReportsTheMasterUnreachable_NextHeartbeatOpensANewOne()
    {
        var master = new ScriptedMaster();
        var link = Link(master);
        Assert.True(await link.SendAsync(new HeartbeatRequest { WorkerId = "known" }, CancellationToken.None));

        master.BreakNext = true;
        var broken = await Assert.ThrowsAsync<RpcException>(() => link.SendAsync(new HeartbeatRequest { WorkerId = "known" }, CancellationToken.None));
        Assert.Equal(StatusCode.Unavailable, broken.StatusCode);

        Assert.True(await link.SendAsync(new HeartbeatRequest { WorkerId = "known" }, CancellationToken.None));
        Assert.Equal((2, 0), (master.StreamsOpened, master.UnaryCalls));
    }

    [Fact]
    public async Task SilentMaster_NoAnswerInTime_DeadlineExceeded_NextHeartbeatOpensANewStream()
    {
        var master = new ScriptedMaster { Silent = true };
        var link = Link(master, TimeSpan.FromMilliseconds(200));

        var silent = await Assert.ThrowsAsync<RpcException>(() => link.SendAsync(new HeartbeatRequest { WorkerId = "known" }, CancellationToken.None));
        Assert.Equal(StatusCode.DeadlineExceeded, silent.StatusCode);

        master.Silent = false;
        Assert.True(await link.SendAsync(new HeartbeatRequest { WorkerId = "known" }, CancellationToken.None));
        Assert.Equal(2, master.StreamsOpened);
    }

    private static HeartbeatLink Link(ScriptedMaster master, TimeSpan? answerTimeout = null) =>
        new(new WorkerService.WorkerServiceClient(master), "127.0.0.1:1", NullLogger.Instance, answerTimeout);

    /// <summary>A master that knows the worker "known" only; its stream can be missing (UNIMPLEMENTED), break once, or never answer.</summary>
    private sealed class ScriptedMaster : CallInvoker
    {
        public bool HasStream { get; init; } = true;

        public bool BreakNext { get; set; }

        public bool Silent { get; set; }

        public int StreamsOpened { get; private set; }

        public int UnaryCalls { get; private set; }

        private static HeartbeatResponse Answer(HeartbeatRequest request) => new() { Known = request.WorkerId == "known" };

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
        {
            StreamsOpened++;
            var pending = new Queue<TRequest>();
            var writer = new Writer<TRequest>(pending);
            var reader = new Reader<TResponse>(async cancellationToken =>
            {
                if (!HasStream)
                {
                    throw new RpcException(new Status(StatusCode.Unimplemented, "Service is unimplemented."));
                }

                if (BreakNext)
                {
                    BreakNext = false;
                    throw new RpcException(new Status(StatusCode.Unavailable, "Error starting gRPC call: connection refused"));
                }

                if (Silent)
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }

                return (TResponse)(object)new HeartbeatStreamResponse { Heartbeat = Answer(((HeartbeatStreamRequest)(object)pending.Dequeue()!).Heartbeat) };
            });
            return new AsyncDuplexStreamingCall<TRequest, TResponse>(writer, reader, Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });
        }

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
        {
            UnaryCalls++;
            return new AsyncUnaryCall<TResponse>(Task.FromResult((TResponse)(object)Answer((HeartbeatRequest)(object)request!)), Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });
        }

        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw new NotSupportedException();

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw new NotSupportedException();

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            throw new NotSupportedException();
    }

    private sealed class Writer<T>(Queue<T> pending) : IClientStreamWriter<T>
    {
        public WriteOptions? WriteOptions { get; set; }

        public Task WriteAsync(T message)
        {
            pending.Enqueue(message);
            return Task.CompletedTask;
        }

        public Task WriteAsync(T message, CancellationToken cancellationToken) => WriteAsync(message);

        public Task CompleteAsync() => Task.CompletedTask;
    }

    private sealed class Reader<T>(Func<CancellationToken, Task<T>> next) : IAsyncStreamReader<T>
    {
        public T Current { get; private set; } = default!;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            Current = await next(cancellationToken);
            return true;
        }
    }
}
