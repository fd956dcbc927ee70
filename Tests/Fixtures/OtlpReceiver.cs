using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace DistributedExecutor.Tests.Fixtures;

/// <summary>
/// A real OTLP/HTTP (protobuf) endpoint on 127.0.0.1 that keeps every span it is sent: service name, span name,
/// trace id. The messages are read from the wire format by field number (ExportTraceServiceRequest →
/// ResourceSpans → ScopeSpans → Span), so no OTLP package is needed.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app, int port)
    {
        _app = app;
        Endpoint = $"http://127.0.0.1:{port}";
    }

    public string Endpoint { get; }

    public ConcurrentQueue<(string Service, string Name, string TraceId)> Spans { get; } = new();

    public static async Task<OtlpReceiver> StartAsync()
    {
        OtlpReceiver? receiver = null;
        var (app, port) = await LoopbackServer.StartAsync(app =>
        {
            app.MapPost("/v1/traces", async (HttpContext context) =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                receiver!.Read(body.ToArray());
                return Results.Ok();
            });
            app.MapPost("/v1/metrics", () => Results.Ok());
        });
        receiver = new OtlpReceiver(app, port);
        return receiver;
    }

    private void Read(byte[] request)
    {
        foreach (var resourceSpans in Fields(request, 1))
        {
            var service = "";
            foreach (var resource in Fields(resourceSpans, 1))
            {
                foreach (var attribute in Fields(resource, 1))
                {
                    if (Fields(attribute, 1).FirstOrDefault() is { } key && key.ToStringUtf8() == "service.name")
                    {
                        service = Fields(Fields(attribute, 2).First(), 1).First().ToStringUtf8();
                    }
                }
            }

            foreach (var scopeSpans in Fields(resourceSpans, 2))
            {
                foreach (var span in Fields(scopeSpans, 2))
                {
                    var traceId = Convert.ToHexString(Fields(span, 1).First().ToByteArray()).ToLowerInvariant();
                    Spans.Enqueue((service, Fields(span, 5).First().ToStringUtf8(), traceId));
                }
            }
        }
    }

    /// <summary>Every length-delimited field number <paramref name="number"/> of a message.</summary>
    private static List<ByteString> Fields(ByteString message, int number) => Fields(message.ToByteArray(), number);

    private static List<ByteString> Fields(byte[] message, int number)
    {
        var found = new List<ByteString>();
        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == number && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                found.Add(input.ReadBytes());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return found;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
