using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace DistributedExecutor.Tests.Fixtures;

/// <summary>A real Kestrel server on 127.0.0.1 for HTTP executor tests, recording what it was sent.</summary>
public sealed class HttpTarget : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HttpTarget(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public string Url(string path) => $"http://127.0.0.1:{Port}{path}";

    /// <summary>Requests seen, by path, with their arrival times.</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<(DateTimeOffset At, string Method, string Headers, string Body)>> Seen { get; } = new();

    public static async Task<HttpTarget> StartAsync()
    {
        HttpTarget? target = null;
        var (app, port) = await LoopbackServer.StartAsync(app =>
        {
            app.Use(async (context, next) =>
            {
                using var reader = new StreamReader(context.Request.Body);
                var body = await reader.ReadToEndAsync();
                var headers = string.Join("\n", context.Request.Headers.Select(h => $"{h.Key}: {h.Value}"));
                target!.Seen.GetOrAdd(context.Request.Path.Value ?? "", _ => new()).Enqueue((DateTimeOffset.UtcNow, context.Request.Method, headers, body));
                await next(context);
            });
            app.MapGet("/ok", () => "hello");
            app.Map("/echo", (HttpContext c) => Results.Text($"{c.Request.Method} {c.Request.Headers["X-Test"]}"));
            app.MapGet("/status/{code:int}", (int code) => Results.StatusCode(code));
            app.MapGet("/big", () => Results.Bytes(new byte[5 * 1024 * 1024]));
            app.MapGet("/retry/{key}", (string key, int failures, int after, HttpContext c) =>
            {
                var count = target!.Seen[$"/retry/{key}"].Count;
                if (count <= failures)
                {
                    c.Response.Headers.RetryAfter = after.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    return Results.StatusCode(503);
                }

                return Results.Text($"after {count - 1} retries");
            });
            app.MapGet("/redirect", (string to) => Results.Redirect(to));
            app.MapGet("/slow", async (CancellationToken ct) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(60), ct);
                return "late";
            });
        });
        target = new HttpTarget(app, port);
        return target;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
