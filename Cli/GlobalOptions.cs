using System.CommandLine;

namespace DistributedExecutor.Cli;

/// <summary>Options every verb accepts, before or after the verb.</summary>
internal static class GlobalOptions
{
    public static readonly Option<string?> Master = new("--master")
    {
        Description = "Master address host:port or https://host:port (default: $DISTEXEC_MASTER, else $MASTER_ADDRESS, else localhost:50051)",
        Recursive = true,
    };

    public static readonly Option<string?> Token = new("--token")
    {
        Description = "API token (default: $DISTEXEC_TOKEN, else $API_TOKEN)",
        Recursive = true,
    };

    public static readonly Option<FileInfo?> TokenFile = new("--token-file")
    {
        Description = "Read the API token from this file (default: $DISTEXEC_TOKEN_FILE)",
        Recursive = true,
    };

    public static readonly Option<FileInfo?> CaCert = new("--ca-cert")
    {
        Description = "PEM CA (or the master's certificate) to trust; implies TLS (default: $DISTEXEC_CA_CERT)",
        Recursive = true,
    };

    public static readonly Option<string?> Context = new("--context")
    {
        Description = "A named master from ~/.config/distctl/config.yaml (default: $DISTEXEC_CONTEXT, else its current-context)",
        Recursive = true,
    };

    public static MasterConnection Connect(ParseResult result)
    {
        // Flags, then variables, then the chosen context, then the default.
        var context = CliContext.Load(result.GetValue(Context) ?? Variable("DISTEXEC_CONTEXT"));
        var address = result.GetValue(Master) ?? Variable("DISTEXEC_MASTER") ?? Variable("MASTER_ADDRESS") ?? context?.Master;
        if (string.IsNullOrWhiteSpace(address))
        {
            address = "localhost:50051";
        }

        var caCert = result.GetValue(CaCert)?.FullName ?? Variable("DISTEXEC_CA_CERT") ?? context?.CaCert;
        if (caCert is not null && !File.Exists(caCert))
        {
            throw new UsageException($"--ca-cert {caCert} does not exist");
        }

        return new MasterConnection(address, TokenOf(result, context), caCert);
    }

    private static string? TokenOf(ParseResult result, CliContext? context)
    {
        if (result.GetValue(Token) is { Length: > 0 } token)
        {
            return token;
        }

        var file = result.GetValue(TokenFile)?.FullName ?? Variable("DISTEXEC_TOKEN_FILE")
            ?? ((Variable("DISTEXEC_TOKEN") ?? Variable("API_TOKEN")) is null ? context?.TokenFile : null);
        if (file is not null)
        {
            if (!File.Exists(file))
            {
                throw new UsageException($"token file {file} does not exist");
            }

            return File.ReadAllText(file).Trim() is { Length: > 0 } read ? read : throw new UsageException($"token file {file} is empty");
        }

        return Variable("DISTEXEC_TOKEN") ?? Variable("API_TOKEN");
    }

    private static string? Variable(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value.Trim() : null;
}
