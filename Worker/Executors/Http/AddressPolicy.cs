using System.Net;
using System.Net.Sockets;
using DistributedExecutor.Worker.Options;

namespace DistributedExecutor.Worker.Executors.Http;

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
        var ip = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
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
