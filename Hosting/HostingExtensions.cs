using System.Net;
using DistributedExecutor.Hosting.Settings;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace DistributedExecutor.Hosting;

/// <summary>Hosting details shared by master and worker.</summary>
internal static class HostingExtensions
{
    /// <summary>
    /// LOG_LEVEL and LOG_FORMAT (read and checked by the options classes); MassTransit and ASP.NET stay at warning
    /// unless debug. JSON lines carry the scopes, and with them the trace and span ids of the work being logged.
    /// </summary>
    public static void AddLogging(this IHostApplicationBuilder builder, LogLevel level, bool json)
    {
        builder.Logging.SetMinimumLevel(level);
        if (level > LogLevel.Debug)
        {
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
            builder.Logging.AddFilter("MassTransit", LogLevel.Warning);
            builder.Logging.AddFilter("Grpc", LogLevel.Warning);
            builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);
        }

        builder.Logging.ClearProviders();
        if (json)
        {
            builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.UseUtcTimestamp = true;
            });
            return;
        }

        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
    }

    /// <summary>HTTP/2 (gRPC) on the given address, over TLS when configured; an empty host listens on every interface.</summary>
    public static void ListenGrpc(this IWebHostBuilder webHost, ListenAddress address, TlsOptions? tls) =>
        webHost.Listen(address, tls, HttpProtocols.Http2);

    /// <summary>HTTP/1.1 (curl, browsers, Prometheus) on the HTTP address; with TLS, HTTP/2 too (negotiated by ALPN).</summary>
    public static void ListenHttp(this IWebHostBuilder webHost, ListenAddress? address, TlsOptions? tls)
    {
        if (address is not null)
        {
            webHost.Listen(address, tls, tls is null ? HttpProtocols.Http1 : HttpProtocols.Http1AndHttp2);
        }
    }

    private static void Listen(this IWebHostBuilder webHost, ListenAddress address, TlsOptions? tls, HttpProtocols protocols)
    {
        var certificate = tls?.LoadCertificate();
        webHost.ConfigureKestrel(kestrel =>
        {
            void Configure(ListenOptions listen)
            {
                listen.Protocols = protocols;
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
            }

            if (address.IsAnyInterface)
            {
                kestrel.ListenAnyIP(address.Port, Configure);
            }
            else if (address.IsLoopback)
            {
                if (string.Equals(address.Host, "localhost", StringComparison.OrdinalIgnoreCase))
                {
                    kestrel.ListenLocalhost(address.Port, Configure);
                }
                else
                {
                    kestrel.Listen(IPAddress.Parse(address.Host), address.Port, Configure);
                }
            }
            else
            {
                var ip = IPAddress.TryParse(address.Host, out var parsed)
                    ? parsed
                    : Dns.GetHostAddresses(address.Host).First();
                kestrel.Listen(ip, address.Port, Configure);
            }
        });
    }
}
