using System.Globalization;
using System.Net;

namespace DistributedExecutor.Hosting.Settings;

/// <summary>A host:port as the seed writes it; an empty host means every interface.</summary>
internal sealed record ListenAddress(string Host, int Port, bool Https = false)
{
    public bool IsAnyInterface => Host.Length == 0 || Host == "0.0.0.0" || Host == "::" || Host == "*";

    public bool IsLoopback =>
        string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(Host, out var ip) && IPAddress.IsLoopback(ip));

    public static ListenAddress Parse(string value) =>
        TryParse(value, out var address, out var error) ? address : throw new FormatException(error);

    public static bool TryParse(string value, out ListenAddress address, out string error)
    {
        address = new ListenAddress("", 0);
        var text = value.Trim();
        var https = false;
        if (text.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            text = text["http://".Length..].TrimEnd('/');
        }
        else if (text.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            text = text["https://".Length..].TrimEnd('/');
            https = true;
        }

        var colon = text.LastIndexOf(':');
        if (colon < 0)
        {
            error = "expected host:port or :port";
            return false;
        }

        var host = text[..colon].Trim('[', ']');
        if (!int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 0 or > 65535)
        {
            error = "the port must be a number from 0 to 65535";
            return false;
        }

        address = new ListenAddress(host, port, https);
        error = "";
        return true;
    }

    /// <summary>The address a client on this machine dials: ":50051" becomes "http://localhost:50051" (https with TLS).</summary>
    public Uri ToClientUri(bool tls = false)
    {
        var host = IsAnyInterface ? "localhost" : Host.Contains(':') ? $"[{Host}]" : Host;
        return new Uri($"{(tls || Https ? "https" : "http")}://{host}:{Port}");
    }
}
