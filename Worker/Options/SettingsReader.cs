using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace DistributedExecutor.Worker.Options;

/// <summary>
/// Reads flat settings (environment variable names) and collects every problem instead of stopping at the
/// first, so a misconfigured process says everything that is wrong in one go.
/// </summary>
internal sealed class SettingsReader(IConfiguration configuration)
{
    private readonly List<string> _errors = [];

    public IReadOnlyList<string> Errors => _errors;

    public string String(string key, string fallback)
    {
        var value = configuration[key];
        return string.IsNullOrWhiteSpace(value) ? fallback : value.Trim();
    }

    public string? OptionalString(string key)
    {
        var value = configuration[key];
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    public int Int(string key, int fallback, int min, int max) => (int)Long(key, fallback, min, max);

    public long Long(string key, long fallback, long min, long max)
    {
        var value = configuration[key];
        if (string.IsNullOrWhiteSpace(value))
        {
            return fallback;
        }

        if (!long.TryParse(value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed))
        {
            _errors.Add($"{key}={value} is not a whole number");
            return fallback;
        }

        if (parsed < min || parsed > max)
        {
            _errors.Add($"{key}={parsed} is out of range ({min}..{max})");
            return fallback;
        }

        return parsed;
    }

    public bool Bool(string key, bool fallback)
    {
        var value = configuration[key];
        if (string.IsNullOrWhiteSpace(value))
        {
            return fallback;
        }

        switch (value.Trim().ToLowerInvariant())
        {
            case "true" or "1" or "yes" or "on":
                return true;
            case "false" or "0" or "no" or "off":
                return false;
            default:
                _errors.Add($"{key}={value} is not true or false");
                return fallback;
        }
    }

    public IReadOnlyList<string> List(string key)
    {
        var value = configuration[key];
        if (string.IsNullOrWhiteSpace(value))
        {
            return [];
        }

        return value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>Accepts ":50051", "host:port", "[::1]:port" or "http://host:port".</summary>
    public string Address(string key, string fallback)
    {
        var value = String(key, fallback);
        if (!ListenAddress.TryParse(value, out _, out var error))
        {
            _errors.Add($"{key}={value}: {error}");
            return fallback;
        }

        return value;
    }

    public Uri? AmqpUri(string key)
    {
        var value = OptionalString(key);
        if (value is null)
        {
            return null;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != "amqp" && uri.Scheme != "amqps"))
        {
            // Never echo the value: it may carry a password.
            _errors.Add($"{key} is not an amqp:// or amqps:// URL");
            return null;
        }

        return uri;
    }

    public void Fail(string message) => _errors.Add(message);
}
