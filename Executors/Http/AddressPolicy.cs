using System.Net;
using System.Net.Sockets;

namespace DistributedExecutor.Executors.Http;

/// <summary>
/// Which addresses an HTTP task may connect to. It is applied to the address actually connected to (after DNS),
/// so a name that resolves somewhere forbidden cannot slip by. Blocked wins over allowed; a non-empty allow list
/// admits only its ranges. Unspecified, broadcast and multicast addresses are never connected to (0.0.0.0 reaches
/// the local machine on Linux).
/// </summary>
internal sealed class AddressPolicy
{
    public static readonly IReadOnlyDictionary<string, IReadOnlyList<IPNetwork>> NamedRanges = new Dictionary<string, IReadOnlyList<IPNetwork>>(StringComparer.OrdinalIgnoreCase)
    {
        ["loopback"] = [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")],
        ["private"] = [IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.168.0.0/16"), IPNetwork.Parse("100.64.0.0/10"), IPNetwork.Parse("fc00::/7")],
        ["link-local"] = [IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("fe80::/10")],
        ["metadata"] = [IPNetwork.Parse("169.254.169.254/32"), IPNetwork.Parse("169.254.170.2/32"), IPNetwork.Parse("fd00:ec2::254/128"), IPNetwork.Parse("100.100.100.200/32"), IPNetwork.Parse("168.63.129.16/32")],
    };

    private static readonly IPNetwork[] Never = [IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("::/128"), IPNetwork.Parse("224.0.0.0/4"), IPNetwork.Parse("255.255.255.255/32"), IPNetwork.Parse("ff00::/8")];

    private readonly List<(string Entry, IPNetwork Network)> _allowed;
    private readonly List<(string Entry, IPNetwork Network)> _blocked;

    public AddressPolicy(HttpExecutorOptions options)
    {
        Enabled = options.Enabled;
        _allowed = Parse(options.Allowed, out _);
        _blocked = Parse(options.Blocked, out _);
    }

    public bool Enabled { get; }

    /// <summary>Problems with EXECUTOR_HTTP_ALLOWED / EXECUTOR_HTTP_BLOCKED entries, for start-up validation.</summary>
    public static IReadOnlyList<string> Problems(string key, IEnumerable<string> entries)
    {
        Parse(entries, out var problems);
        return [.. problems.Select(p => $"{key}: {p}")];
    }

    /// <summary>Null when <paramref name="address"/> may be connected to, else why not.</summary>
    public string? Check(IPAddress address)
    {
        // An IPv6 address that carries an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo, ISATAP) reaches
        // that IPv4 host through a translator or tunnel, so it is judged as that IPv4 address (each of them).
        foreach (var ip in EmbeddedIPv4(address) is { Count: > 0 } embedded ? embedded : [address])
        {
            if (CheckOne(ip) is { } refused)
            {
                return ip.Equals(address) ? refused : $"{address} carries {ip}: {refused}";
            }
        }

        return null;
    }

    /// <summary>The IPv4 addresses an IPv6 address embeds by a standard translation or tunnelling scheme.</summary>
    public static IReadOnlyList<IPAddress> EmbeddedIPv4(IPAddress address)
    {
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return [];
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return [address.MapToIPv4()];
        }

        var b = address.GetAddressBytes();
        static bool Zero(byte[] bytes, int from, int to) => bytes.AsSpan(from, to - from).IndexOfAnyExcept((byte)0) < 0;
        static IPAddress V4(byte a, byte b, byte c, byte d) => new([a, b, c, d]);

        // IPv4-compatible ::a.b.c.d (deprecated; :: and ::1 are IPv6's own).
        if (Zero(b, 0, 12) && !Zero(b, 12, 15))
        {
            return [V4(b[12], b[13], b[14], b[15])];
        }

        // NAT64 well-known prefix 64:ff9b::/96 and the local-use 64:ff9b:1::/48 (RFC 6052, 8215).
        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
        {
            if (Zero(b, 4, 12))
            {
                return [V4(b[12], b[13], b[14], b[15])];
            }

            if (b[4] == 0x00 && b[5] == 0x01)
            {
                return [V4(b[6], b[7], b[9], b[10])];
            }
        }

        // 6to4 2002:AABB:CCDD::/48.
        if (b[0] == 0x20 && b[1] == 0x02)
        {
            return [V4(b[2], b[3], b[4], b[5])];
        }

        // Teredo 2001:0::/32: the server, and the client (its bits inverted).
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00)
        {
            return [V4(b[4], b[5], b[6], b[7]), V4((byte)~b[12], (byte)~b[13], (byte)~b[14], (byte)~b[15])];
        }

        // ISATAP interface identifier ::0:5efe:a.b.c.d or ::200:5efe:a.b.c.d, under any prefix.
        if ((b[8] | 0x02) == 0x02 && b[9] == 0x00 && b[10] == 0x5e && b[11] == 0xfe)
        {
            return [V4(b[12], b[13], b[14], b[15])];
        }

        return [];
    }

    private string? CheckOne(IPAddress ip)
    {
        if (Never.Any(n => n.Contains(ip)))
        {
            return $"{ip} is an unspecified, broadcast or multicast address";
        }

        foreach (var (entry, network) in _blocked)
        {
            if (network.Contains(ip))
            {
                return $"{ip} is in the blocked range {entry} (EXECUTOR_HTTP_BLOCKED)";
            }
        }

        if (_allowed.Count > 0 && !_allowed.Any(a => a.Network.Contains(ip)))
        {
            return $"{ip} is not in EXECUTOR_HTTP_ALLOWED";
        }

        return null;
    }

    private static List<(string, IPNetwork)> Parse(IEnumerable<string> entries, out List<string> problems)
    {
        var result = new List<(string, IPNetwork)>();
        problems = [];
        foreach (var entry in entries)
        {
            if (NamedRanges.TryGetValue(entry, out var named))
            {
                result.AddRange(named.Select(n => (entry, n)));
            }
            else if (IPNetwork.TryParse(entry, out var network))
            {
                result.Add((entry, network));
            }
            else if (IPAddress.TryParse(entry, out var single))
            {
                result.Add((entry, new IPNetwork(single, single.AddressFamily == AddressFamily.InterNetwork ? 32 : 128)));
            }
            else
            {
                problems.Add($"\"{entry}\" is neither a CIDR, an address nor one of {string.Join(", ", NamedRanges.Keys)}");
            }
        }

        return result;
    }
}
