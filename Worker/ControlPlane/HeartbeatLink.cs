using DistributedExecutor.Contracts.V1;
using Grpc.Core;

namespace DistributedExecutor.Worker.ControlPlane;

/// <summary>
/// A worker's heartbeats to the master, on one long-lived HeartbeatStream (opened on first use, again after it
/// broke): a heartbeat on an open stream costs the master a fraction of a call of its own. Against a master without
/// that method (UNIMPLEMENTED) each heartbeat is a Heartbeat call from then on. An answer that does not come within
/// <paramref name="answerTimeout"/> (default <see cref="AnswerTimeout"/>) counts as the master unreachable: a peer gone without closing the connection would
/// otherwise hold the stream forever.
/// </summary>
internal sealed partial class HeartbeatLink(WorkerService.WorkerServiceClient client, string masterAddress, ILogger logger, TimeSpan? answerTimeout = null)
{
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(10);

    private readonly TimeSpan _answerTimeout = answerTimeout ?? AnswerTimeout;

    private AsyncDuplexStreamingCall<HeartbeatStreamRequest, HeartbeatStreamResponse>? _stream;

    /// <summary>Whether heartbeats go as calls of their own (the master answered UNIMPLEMENTED to HeartbeatStream).</summary>
    public bool Unary { get; private set; }

    /// <summary>One heartbeat: whether the master knows the worker. Throws <see cref="RpcException"/> when the master cannot be reached.</summary>
    public async Task<bool> SendAsync(HeartbeatRequest request, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_answerTimeout);
        if (!Unary)
        {
            try
            {
                _stream ??= client.HeartbeatStream();
                await _stream.RequestStream.WriteAsync(new HeartbeatStreamRequest { Heartbeat = request }, timeout.Token).ConfigureAwait(false);
                if (!await _stream.ResponseStream.MoveNext(timeout.Token).ConfigureAwait(false))
                {
                    throw new RpcException(new Status(StatusCode.Unavailable, "the master ended the heartbeat stream"));
                }

                return _stream.ResponseStream.Current.Heartbeat?.Known ?? false;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented)
            {
                Close();
                Unary = true;
                LogStreamUnsupported(masterAddress);
            }
            catch (Exception ex) when (ex is RpcException or OperationCanceledException or IOException or InvalidOperationException)
            {
                // The stream is spent (a half-read answer cannot be resumed): the next heartbeat opens a new one.
                Close();
                if (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }

                throw timeout.IsCancellationRequested
                    ? new RpcException(new Status(StatusCode.DeadlineExceeded, $"no answer to a heartbeat within {_answerTimeout.TotalSeconds:0.#}s"))
                    : ex as RpcException ?? new RpcException(new Status(StatusCode.Unavailable, ex.Message));
            }
        }

        try
        {
            return (await client.HeartbeatAsync(request, cancellationToken: timeout.Token).ConfigureAwait(false)).Known;
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && !cancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"no answer to a heartbeat within {_answerTimeout.TotalSeconds:0.#}s"));
        }
    }

    /// <summary>Ends the stream (at shutdown; the master sees the call end).</summary>
    public void Close()
    {
        _stream?.Dispose();
        _stream = null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Master at {MasterAddress} has no HeartbeatStream (an older master): heartbeats go as calls of their own")]
    private partial void LogStreamUnsupported(string masterAddress);
}
