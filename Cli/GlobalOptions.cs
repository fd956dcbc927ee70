using System.CommandLine;

namespace DistributedExecutor.Cli;

/// <summary>Options every verb accepts, before or after the verb.</summary>
internal static class GlobalOptions
{
    public static readonly Option<string?> Master = new("--master")
    {
        Description = "Master address host:port (default: $MASTER_ADDRESS, else localhost:50051)",
        Recursive = true,
    };

    public static readonly Option<string?> Token = new("--token")
    {
        Description = "API token (default: $API_TOKEN)",
        Recursive = true,
    };

    public static MasterConnection Connect(ParseResult result)
    {
        var address = result.GetValue(Master) ?? Environment.GetEnvironmentVariable("MASTER_ADDRESS");
        if (string.IsNullOrWhiteSpace(address))
        {
            address = "localhost:50051";
        }

        return new MasterConnection(address, result.GetValue(Token) ?? Environment.GetEnvironmentVariable("API_TOKEN"));
    }
}
