using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace DistributedExecutor.Tests.Fixtures;

/// <summary>A real Kestrel app on 127.0.0.1 and a free port, quiet, with the routes a fixture maps.</summary>
public static class LoopbackServer
{
    public static async Task<(WebApplication App, int Port)> StartAsync(Action<WebApplication> map)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        return (app, new Uri(app.Urls.Single()).Port);
    }
}
