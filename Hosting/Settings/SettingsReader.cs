using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace DistributedExecutor.Hosting.Settings;

/// <summary>
/// Reads flat settings (environment variable names) and collects every problem instead of stopping at the
/// first, so a misconfigured process says everything that is wrong in one go.
/// </summary>
internal sealed class SettingsReader(IConfiguration configuration)
{
    private readonly List<string> _errors = [];
    private readonly List<(string Setting, string Path)> _secretFiles = [];

    /// <summary>The files secrets were read from (KEY_FILE settings, the TLS key), so start-up can check who may read them.</summary>
    public IReadOnlyList<(string Setting, string Path)> SecretFiles => [.. _secretFiles.Distinct()];

    /// <summary>Records that <paramref name="path"/> (setting <paramref name="setting"/>) holds a secret.</summary>
    public void MarkSecretFile(string setting, string path) => _secretFiles.Add((setting, Path.GetFullPath(path)));

    /// <summary>Every problem once (master and embedded workers read some settings both).</summary>
    public IReadOnlyList<string> Errors => [.. _errors.Distinct(StringComparer.Ordinal)];

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

    /// <summary>A secret from KEY or from the file KEY_FILE names (not both). Never echoed in errors.</summary>
    public string? Secret(string key)
    {
        var direct = OptionalString(key);
        var file = OptionalString(key + "_FILE");
        if (direct is not null && file is not null)
        {
            _errors.Add($"{key} and {key}_FILE are both set; use one");
            return null;
        }

        if (file is null)
        {
            return direct;
        }

        MarkSecretFile(key + "_FILE", file);
        try
        {
            var value = File.ReadAllText(file).Trim();
            if (value.Length == 0)
            {
                _errors.Add($"{key}_FILE={file} is empty");
                return null;
            }

            return value;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _errors.Add($"{key}_FILE={file} cannot be read: {ex.Message}");
            return null;
        }
    }

    /// <summary>LOG_LEVEL: debug, info, warn or error as in the seed (trace, information and warning too).</summary>
    public LogLevel LogLevel()
    {
        var value = String("LOG_LEVEL", "info");
        switch (value.ToLowerInvariant())
        {
            case "trace":
                return Microsoft.Extensions.Logging.LogLevel.Trace;
            case "debug":
                return Microsoft.Extensions.Logging.LogLevel.Debug;
            case "info" or "information":
                return Microsoft.Extensions.Logging.LogLevel.Information;
            case "warn" or "warning":
                return Microsoft.Extensions.Logging.LogLevel.Warning;
            case "error":
                return Microsoft.Extensions.Logging.LogLevel.Error;
            default:
                _errors.Add($"LOG_LEVEL={value} is not debug, info, warn or error");
                return Microsoft.Extensions.Logging.LogLevel.Information;
        }
    }

    /// <summary>LOG_FORMAT: text (one line per entry, the default) or json (one JSON object per line, with scopes and trace ids).</summary>
    public bool JsonLogs()
    {
        var value = String("LOG_FORMAT", "text");
        switch (value.ToLowerInvariant())
        {
            case "text":
                return false;
            case "json":
                return true;
            default:
                _errors.Add($"LOG_FORMAT={value} is not text or json");
                return false;
        }
    }

    /// <summary>The fewest characters a token may have: shorter ones are guessable.</summary>
    public const int MinimumTokenLength = 16;

    /// <summary>A bearer token (<see cref="Secret"/>) of at least <see cref="MinimumTokenLength"/> characters.</summary>
    public string? Token(string key)
    {
        var token = Secret(key);
        if (token is not null && token.Length < MinimumTokenLength)
        {
            _errors.Add($"{key} is too short ({token.Length} characters): use at least {MinimumTokenLength} random characters (for example: openssl rand -hex 24)");
            return null;
        }

        return token;
    }

    /// <summary>A path that must name an existing file, when set.</summary>
    public string? ExistingFile(string key)
    {
        var value = OptionalString(key);
        if (value is not null && !File.Exists(value))
        {
            _errors.Add($"{key}={value} does not exist");
            return null;
        }

        return value;
    }

    /// <summary>A decimal number within [min, max] ("168", "0.5").</summary>
    public double Double(string key, double fallback, double min, double max)
    {
        var text = String(key, fallback.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value) || double.IsNaN(value))
        {
            _errors.Add($"{key}={text} is not a number");
            return fallback;
        }

        if (value < min || value > max)
        {
            _errors.Add($"{key}={text} must be between {min} and {max}");
            return fallback;
        }

        return value;
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

    /// <summary>
    /// The HTTP port (metrics, health, dashboard, JSON API): KEY as an address, "off" for none. Without a token the
    /// default (every interface) narrows to loopback, since nothing listens beyond loopback without
    /// authentication; an explicit non-loopback address without a token is an error.
    /// </summary>
    public ListenAddress? HttpAddress(string key, string fallback, bool authenticated, string tokenName)
    {
        var value = String(key, fallback);
        if (value.Equals("off", StringComparison.OrdinalIgnoreCase) || value.Length == 0)
        {
            return null;
        }

        if (!ListenAddress.TryParse(value, out var address, out var error))
        {
            _errors.Add($"{key}={value}: {error}");
            return null;
        }

        if (address.IsLoopback || authenticated)
        {
            return address;
        }

        if (value == fallback)
        {
            return ListenAddress.Parse($"127.0.0.1:{address.Port}");
        }

        _errors.Add($"{key}={value} listens beyond loopback without authentication: set {tokenName}, or listen on 127.0.0.1 / localhost");
        return null;
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

    /// <summary>
    /// The broker URL from KEY or KEY_FILE; RABBITMQ_PASSWORD / RABBITMQ_PASSWORD_FILE, when set, replaces the
    /// password in it (so the URL can live in a config map and the password in a secret).
    /// </summary>
    public Uri? AmqpUri(string key)
    {
        var value = Secret(key);
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

        if (Secret("RABBITMQ_PASSWORD") is { } password)
        {
            var user = uri.UserInfo.Split(':', 2)[0];
            uri = new UriBuilder(uri) { UserName = user.Length == 0 ? "guest" : Uri.UnescapeDataString(user), Password = password }.Uri;
        }

        return uri;
    }

    public void Fail(string message) => _errors.Add(message);
}
