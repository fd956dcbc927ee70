using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using DistributedExecutor.Contracts.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace DistributedExecutor.Master.Services;

/// <summary>
/// A request whose first message is not a valid message of the method's input type gets INVALID_ARGUMENT with the
/// reason. Without this, gRPC's own deserializer throws before any handler runs and the caller sees UNKNOWN
/// ("Exception was thrown by handler"), which tells nobody what to fix. So does a frame header that lies: one of a
/// single-message call claiming more than MAX_REQUEST_BYTES gets RESOURCE_EXHAUSTED at once (nothing of it is read
/// or buffered; gRPC answers a stream's itself, as RESOURCE_EXHAUSTED), and a
/// body that ends inside a header or before the length its header claimed gets INVALID_ARGUMENT (gRPC answered
/// UNKNOWN and INTERNAL, a fault of the server's, for those). The first message is looked at where it
/// lies in the request's pipe, consuming nothing, so gRPC reads it next and nothing is copied. A method that takes
/// one request message and whose message has not all arrived at the first read is read into a buffer instead
/// (bounded by MAX_REQUEST_BYTES): waiting with bytes unconsumed holds back the HTTP/2 flow-control window that
/// the rest needs. A streaming request is never buffered, since that keeps all of it (a worker's heartbeat stream
/// lives for days): its first message is waited for in place when small, else left to gRPC.
/// </summary>
internal sealed class MalformedRequestMiddleware(RequestDelegate next, DistributedExecutor.Master.Options.MasterOptions options)
{
    /// <summary>The largest first message of a streaming request waited for in place (one HTTP/2 DATA frame).</summary>
    internal const int StreamPeekLimit = 16 * 1024;

    private static readonly Dictionary<string, MethodDescriptor> Methods =
        new Google.Protobuf.Reflection.ServiceDescriptor[] { Contracts.V1.JobService.Descriptor, Contracts.V1.WorkerService.Descriptor }
            .SelectMany(s => s.Methods)
            .ToDictionary(m => $"/{m.Service.FullName}/{m.Name}", m => m, StringComparer.Ordinal);

    public async Task InvokeAsync(HttpContext context)
    {
        if (!Methods.TryGetValue(context.Request.Path.Value ?? "", out var method)
            || context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) != true)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var (problem, looked) = await PeekAsync(context.Request.BodyReader, method.InputType, options.MaxRequestBytes, waitForMore: method.IsClientStreaming, context.RequestAborted)
            .ConfigureAwait(false);
        if (!looked && !method.IsClientStreaming)
        {
            // Its one message had not all arrived: read into a buffer (bounded by MAX_REQUEST_BYTES), checked, read again by gRPC.
            context.Request.EnableBuffering(bufferThreshold: 1024 * 1024, bufferLimit: options.MaxRequestBytes + 5);
            problem = await CheckAsync(context.Request.Body, method.InputType, options.MaxRequestBytes, context.RequestAborted).ConfigureAwait(false);
            context.Request.Body.Position = 0;
        }

        if (problem is not { } status)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        await RequestGateMiddleware.RejectAsync(context, status).ConfigureAwait(false);
    }

    private static Status TooLarge(uint length, int max) =>
        new(StatusCode.ResourceExhausted, $"the request's message of {length} bytes exceeds MAX_REQUEST_BYTES ({max})");

    private static Status EndedInHeader(long read) =>
        new(StatusCode.InvalidArgument, $"the request ended {read} bytes into a message's 5-byte gRPC header");

    private static Status EndedInMessage(long read, uint length) =>
        new(StatusCode.InvalidArgument, $"the request ended {read} bytes into a message its header says is {length} bytes");

    /// <summary>
    /// Looks at the first message where it lies in the pipe and consumes nothing. Looked is false when the caller must
    /// buffer to see it (it had not all arrived, and <paramref name="waitForMore"/> is false); see <see cref="Judge"/>.
    /// </summary>
    private static async Task<(Status? Problem, bool Looked)> PeekAsync(PipeReader reader, MessageDescriptor input, int maxRequestBytes, bool waitForMore, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var verdict = result.IsCanceled ? LeaveToGrpc : Judge(buffer, result.IsCompleted, input, maxRequestBytes, stream: waitForMore);
            if (verdict is not null || !waitForMore)
            {
                reader.AdvanceTo(buffer.Start);
                return (verdict?.Problem, verdict is not null);
            }

            // Nothing consumed, all of it examined: the next read waits for more.
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>What the check decides from the first bytes of a body.</summary>
    private sealed record Verdict(Status? Problem);

    /// <summary>Nothing for this check to answer: gRPC reads the request (one instance, so a sound request allocates none).</summary>
    private static readonly Verdict LeaveToGrpc = new((Status?)null);

    private static Verdict Of(Status? problem) => problem is null ? LeaveToGrpc : new Verdict(problem);

    /// <summary>
    /// The decision on a body's first message from <paramref name="buffer"/> (its first bytes; <paramref name="ended"/>
    /// when no more will come), or null when it needs more bytes. A problem is null when the message parses, or when
    /// gRPC itself answers (an empty body, a compressed message, a stream's first message past MAX_REQUEST_BYTES or
    /// past <see cref="StreamPeekLimit"/>).
    /// </summary>
    private static Verdict? Judge(ReadOnlySequence<byte> buffer, bool ended, MessageDescriptor input, int maxRequestBytes, bool stream)
    {
        if (Frame(buffer) is not var (compressed, length))
        {
            return !ended ? null : buffer.Length == 0 ? LeaveToGrpc : new Verdict(EndedInHeader(buffer.Length));
        }

        if (length > maxRequestBytes)
        {
            // A stream's is left to gRPC, whose failing read ends the stream: answered here, the rest of a large first
            // message still in flight would wait on a stream nobody reads.
            return stream ? LeaveToGrpc : new Verdict(TooLarge(length, maxRequestBytes));
        }

        if (buffer.Length - 5 >= length)
        {
            return compressed ? LeaveToGrpc : Of(Parse(input, buffer.Slice(5, length)));
        }

        if (ended)
        {
            return new Verdict(EndedInMessage(buffer.Length - 5, length));
        }

        return compressed || (stream && length > StreamPeekLimit) ? LeaveToGrpc : null;
    }

    /// <summary>The gRPC frame header (compressed flag, message length) once its 5 bytes are in.</summary>
    private static (bool Compressed, uint Length)? Frame(ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < 5)
        {
            return null;
        }

        Span<byte> header = stackalloc byte[5];
        buffer.Slice(0, 5).CopyTo(header);
        return (header[0] != 0, BinaryPrimitives.ReadUInt32BigEndian(header[1..]));
    }

    private static Status? Parse(MessageDescriptor input, ReadOnlySequence<byte> message)
    {
        try
        {
            input.Parser.ParseFrom(message);
            return null;
        }
        catch (InvalidProtocolBufferException ex)
        {
            return new Status(StatusCode.InvalidArgument, $"the request is not a valid {input.FullName} message: {ex.Message}");
        }
    }

    /// <summary>The buffered path, for a single message that had not all arrived at the first read: judged as <see cref="PeekAsync"/> does.</summary>
    private static async Task<Status?> CheckAsync(Stream body, MessageDescriptor input, int maxRequestBytes, CancellationToken cancellationToken)
    {
        var header = new byte[5];
        var read = await body.ReadAtLeastAsync(header, 5, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (Judge(new ReadOnlySequence<byte>(header, 0, read), ended: read < 5, input, maxRequestBytes, stream: false) is { } verdict)
        {
            return verdict.Problem;
        }

        // Within MAX_REQUEST_BYTES (judged above), so never larger than the limit however the header lies.
        var frame = new byte[5 + BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1))];
        header.CopyTo(frame, 0);
        var got = await body.ReadAtLeastAsync(frame.AsMemory(5), frame.Length - 5, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        return Judge(new ReadOnlySequence<byte>(frame, 0, 5 + got), ended: true, input, maxRequestBytes, stream: false)?.Problem;
    }
}
