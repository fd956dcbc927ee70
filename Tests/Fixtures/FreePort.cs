using System.Net;
using System.Net.Sockets;

namespace DistributedExecutor.Tests.Fixtures;

/// <summary>
/// A loopback port nobody listens on right now, below the kernel's ephemeral range: a port the kernel hands out
/// for "any port" can be taken, before the process it is meant for binds it, by the local end of some outgoing
/// connection (a benchmark run stopped on "address already in use" for a worker's port 44161 that way). Never
/// the same port twice in this process.
/// </summary>
public static class FreePort
{
    private const int Floor = 10000;

    private static readonly Lock Gate = new();
    private static readonly HashSet<int> Given = [];

    public static int Next()
    {
        var ceiling = EphemeralStart();
        lock (Gate)
        {
            for (var attempt = 0; ceiling - Floor > 1000 && attempt < 500; attempt++)
            {
                var port = Random.Shared.Next(Floor, ceiling);
                if (!Given.Contains(port) && Bindable(port))
                {
                    Given.Add(port);
                    return port;
                }
            }

            // No room below the ephemeral range (an unusual kernel setting): any port the kernel gives.
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var any = ((IPEndPoint)listener.LocalEndpoint).Port;
            Given.Add(any);
            return any;
        }
    }

    private static bool Bindable(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Where the kernel's ephemeral ports begin (net.ipv4.ip_local_port_range), 32768 when unknown.</summary>
    private static int EphemeralStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768;
        }
    }
}
