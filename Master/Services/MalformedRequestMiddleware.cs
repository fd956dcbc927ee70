using System.Buffers.Binary;
using DistributedExecutor.Contracts.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace DistributedExecutor.Master.Services;

/// <summary>
/// A request body that is not a valid message of the method's input type gets INVALID_ARGUMENT with the reason.
/// Without this, gRPC's own deserializer throws before any handler runs and the caller sees UNKNOWN
/// ("Exception was thrown by handler"), which tells nobody what to fix.
/// </summary>
internal sealed class MalformedRequestMiddleware(RequestDelegate next, DistributedExecutor.Master.Options.MasterOptions options)
{
    private static readonly Dictionary<string, MessageDescriptor> Inputs =
        new Google.Protobuf.Reflection.ServiceDescriptor[] { Contracts.V1.JobService.Descriptor, Contracts.V1.WorkerService.Descriptor }
            .SelectMany(s => s.Methods)
            .ToDictionary(m => $"/{m.Service.FullName}/{m.Name}", m => m.InputType, StringComparer.Ordinal);

    public async Task InvokeAsync(HttpContext context)
    {
        if (!Inputs.TryGetValue(context.Request.Path.Value ?? "", out var input)
            || context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) != true)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        context.Request.EnableBuffering(bufferThreshold: 1024 * 1024, bufferLimit: options.MaxRequestBytes + 5);
        var problem = await CheckAsync(context.Request.Body, input, options.MaxRequestBytes, context.RequestAborted).ConfigureAwait(false);
        context.Request.Body.Position = 0;
        if (problem is null)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        // A trailers-only response: the status travels in the headers.
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = ((int)Grpc.Core.StatusCode.InvalidArgument).ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.Headers["grpc-message"] = Uri.EscapeDataString(problem);
    }

    private static async Task<string?> CheckAsync(Stream body, MessageDescriptor input, int maxCheckedBytes, CancellationToken cancellationToken)
    {
        var header = new byte[5];
        var read = await body.ReadAtLeastAsync(header, 5, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read < 5 || header[0] != 0)
        {
            // Empty, truncated framing or a compressed message: gRPC itself answers those properly.
            return null;
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1));
        if (length > maxCheckedBytes)
        {
            return null;
        }

        var message = new byte[length];
        if (await body.ReadAtLeastAsync(message, (int)length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false) < length)
        {
            return null;
        }

        try
        {
            input.Parser.ParseFrom(message);
            return null;
        }
        catch (InvalidProtocolBufferException ex)
        {
            return $"the request is not a valid {input.FullName} message: {ex.Message}";
        }
    }
}
