using System.CommandLine;
using DistributedExecutor.Contracts.Naming;
using System.Security.Cryptography;
using System.Text;

namespace DistributedExecutor.Cli.Commands;

/// <summary>
/// <c>distctl token new NAME ROLE</c>: a fresh random token, and the TOKENS_FILE line that names it (only its hash
/// goes to the master). Runs offline.
/// </summary>
internal static class TokenCommand
{
    private static readonly string[] Roles = ["viewer", "operator", "worker", "admin"];

    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "Who holds the token (recorded on the jobs it submits and cancels)" };
        var role = new Argument<string>("role") { Description = "viewer (reads), operator (reads, submits, cancels), worker, or admin" };
        var create = new Command("new", "Make a random token; prints it on stdout and its TOKENS_FILE line on stderr") { name, role };
        create.SetAction(result =>
        {
            try
            {
                var who = result.GetValue(name)!;
                var what = result.GetValue(role)!.ToLowerInvariant();
                if (!Roles.Contains(what))
                {
                    throw new UsageException($"role \"{what}\" is not one of {string.Join(", ", Roles)}");
                }

                if (!NameRules.IsValidTokenName(who))
                {
                    throw new UsageException($"name \"{who}\" {NameRules.TokenNameRule}");
                }

                var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
                var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
                Console.Out.WriteLine(token);
                Console.Error.WriteLine("Add this line to the master's TOKENS_FILE and hand the token above to its holder:");
                Console.Error.WriteLine($"{who} {what} sha256:{hash}");
                return ExitCodes.Success;
            }
            catch (UsageException ex)
            {
                Console.Error.WriteLine($"distctl: {ex.Message}");
                return ExitCodes.Usage;
            }
        });
        return new Command("token", "Named tokens for the master's TOKENS_FILE") { create };
    }
}
