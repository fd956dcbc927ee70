using System.Net;
using DistributedExecutor.Contracts.Messages;

namespace DistributedExecutor.Executors.Http;

/// <summary>Limits on what an HTTP spec may carry, each with an error a person can act on.</summary>
internal static class HttpSpecRules
{
    public const int MaxUrlLength = 8 * 1024;
    public const int MaxHeaders = 100;
    public const int MaxHeaderBytes = 64 * 1024;
    public const int MaxBodyBytes = 4 * 1024 * 1024;
    public const long MaxResponseCapBytes = 64L * 1024 * 1024;
    public const int MaxRetries = 10;
    public const int MaxStatusRanges = 32;

    public static readonly IReadOnlySet<string> Methods = new HashSet<string>(StringComparer.Ordinal) { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS" };

    /// <summary>Every problem with <paramref name="spec"/>; <paramref name="uri"/> is the parsed URL when it is valid.</summary>
    public static IReadOnlyList<string> Check(HttpTask spec, out Uri? uri)
    {
        var problems = new List<string>();
        uri = null;
        if (!Methods.Contains(spec.Method))
        {
            problems.Add($"http.method \"{SpecText.Printable(spec.Method)}\" is not one of {string.Join(", ", Methods)}");
        }

        if (spec.Url.Length == 0)
        {
            problems.Add("http.url is empty");
        }
        else if (spec.Url.Length > MaxUrlLength)
        {
            problems.Add($"http.url is {spec.Url.Length} characters; at most {MaxUrlLength} are allowed");
        }
        else if (spec.Url.Any(char.IsControl) || !spec.Url.Contains("://", StringComparison.Ordinal) || !Uri.TryCreate(spec.Url, UriKind.Absolute, out var parsed))
        {
            problems.Add($"http.url \"{SpecText.Printable(spec.Url)}\" is not an absolute URL");
        }
        else if (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps)
        {
            problems.Add($"http.url scheme \"{parsed.Scheme}\" is not allowed: only http and https");
        }
        else if (parsed.UserInfo.Length > 0)
        {
            problems.Add("http.url carries credentials (user:password@); send them in an Authorization header instead");
        }
        else if (parsed.Host.Length == 0)
        {
            problems.Add("http.url has no host");
        }
        else
        {
            uri = parsed;
        }

        if (SpecText.HasInvalidUtf8(spec.Url) || SpecText.HasInvalidUtf8(spec.Method) || spec.Headers.Any(h => SpecText.HasInvalidUtf8(h.Key) || SpecText.HasInvalidUtf8(h.Value)))
        {
            problems.Add("the http spec holds text that was not valid UTF-8 (it arrived as U+FFFD); send UTF-8");
        }

        if (spec.Headers.Count > MaxHeaders)
        {
            problems.Add($"http.headers has {spec.Headers.Count} entries; at most {MaxHeaders} are allowed");
        }

        var headerBytes = spec.Headers.Sum(h => (long)h.Key.Length + h.Value.Length + 4);
        if (headerBytes > MaxHeaderBytes)
        {
            problems.Add($"http.headers take {headerBytes} bytes; at most {MaxHeaderBytes} are allowed");
        }

        foreach (var (name, value) in spec.Headers.Take(MaxHeaders))
        {
            if (name.Length == 0 || !name.All(IsTokenChar))
            {
                problems.Add($"http.headers has an invalid name \"{SpecText.Printable(name)}\"");
            }
            else if (value.Any(c => c is '\r' or '\n' or '\0'))
            {
                problems.Add($"http.headers \"{name}\" has a line break or NUL in its value");
            }
            else if (name.Equals("Host", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) || name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"http.headers may not set {name}; it follows from the URL and body");
            }
        }

        if (spec.Body.Length > MaxBodyBytes)
        {
            problems.Add($"http.body is {spec.Body.Length} bytes; at most {MaxBodyBytes} are allowed");
        }

        if (spec.ExpectedStatus.Count > MaxStatusRanges)
        {
            problems.Add($"http.expected_status has {spec.ExpectedStatus.Count} ranges; at most {MaxStatusRanges} are allowed");
        }

        foreach (var range in spec.ExpectedStatus.Take(MaxStatusRanges))
        {
            if (range.Min < 100 || range.Max > 599 || range.Min > range.Max)
            {
                problems.Add($"http.expected_status {range.Min}-{range.Max} is not a range within 100-599");
            }
        }

        if (spec.ResponseCapBytes < 0 || spec.ResponseCapBytes > MaxResponseCapBytes)
        {
            problems.Add($"http.response_cap_bytes {spec.ResponseCapBytes} is out of range (0..{MaxResponseCapBytes})");
        }

        if (spec.MaxRetries < 0 || spec.MaxRetries > MaxRetries)
        {
            problems.Add($"http.max_retries {spec.MaxRetries} is out of range (0..{MaxRetries})");
        }

        return problems;
    }

    /// <summary>The addresses a host names without DNS: an IP literal, or localhost.</summary>
    public static IReadOnlyList<IPAddress> LiteralAddresses(Uri uri)
    {
        if (IPAddress.TryParse(uri.DnsSafeHost, out var ip))
        {
            return [ip];
        }

        return uri.IsLoopback ? [IPAddress.Loopback, IPAddress.IPv6Loopback] : [];
    }

    public static bool IsExpected(IReadOnlyList<StatusRange> expected, int status) =>
        expected.Count == 0 ? status is >= 200 and <= 299 : expected.Any(r => status >= r.Min && status <= r.Max);

    public static string Describe(IReadOnlyList<StatusRange> expected) =>
        expected.Count == 0 ? "200-299" : string.Join(",", expected.Select(r => r.Min == r.Max ? $"{r.Min}" : $"{r.Min}-{r.Max}"));

    private static bool IsTokenChar(char c) =>
        c is > ' ' and < '\x7f' && "()<>@,;:\\\"/[]?={}".IndexOf(c, StringComparison.Ordinal) < 0;
}
