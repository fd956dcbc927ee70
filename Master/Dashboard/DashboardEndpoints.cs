using System.Reflection;
using DistributedExecutor.Hosting.Settings;

namespace DistributedExecutor.Master.Dashboard;

/// <summary>
/// Serves the dashboard (/ui): three static files compiled into this assembly. The page holds no data; its
/// script reads the JSON API with the user's token, so it is exactly as protected as the API.
/// </summary>
internal static class DashboardEndpoints
{
    private static readonly (string Path, string Resource, string ContentType)[] Files =
    [
        ("/ui", "index.html", "text/html; charset=utf-8"),
        ("/ui/dashboard.js", "dashboard.js", "text/javascript; charset=utf-8"),
        ("/ui/dashboard.css", "dashboard.css", "text/css; charset=utf-8"),
    ];

    public static void MapDashboard(this WebApplication app, ListenAddress? http)
    {
        if (http is null)
        {
            return;
        }

        var host = $"*:{http.Port}";
        foreach (var (path, resource, contentType) in Files)
        {
            var content = Load(resource);
            app.MapGet(path, (HttpContext context) =>
            {
                context.Response.Headers.CacheControl = "no-cache";
                context.Response.Headers["Content-Security-Policy"] = "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
                context.Response.Headers.XFrameOptions = "DENY";
                context.Response.Headers.XContentTypeOptions = "nosniff";
                return Results.Bytes(content, contentType);
            }).RequireHost(host);
        }

        app.MapGet("/", () => Results.Redirect("/ui")).RequireHost(host);
    }

    private static byte[] Load(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"Dashboard.{name}")
            ?? throw new InvalidOperationException($"dashboard resource {name} is missing from the build");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
