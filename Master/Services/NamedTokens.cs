using System.Text.RegularExpressions;
using DistributedExecutor.Contracts.Naming;

namespace DistributedExecutor.Master.Services;

/// <summary>What a token may do. A token has one role from TOKENS_FILE; API_TOKEN and WORKER_TOKEN map onto them.</summary>
internal enum Role
{
    /// <summary>Reads everything (jobs, output, workers, pools), changes nothing.</summary>
    Viewer,

    /// <summary>Reads, submits and cancels jobs.</summary>
    Operator,

    /// <summary>Registers and heartbeats as a worker, nothing else.</summary>
    Worker,

    /// <summary>Every call.</summary>
    Admin,
}

/// <summary>A caller the master knows by its token: the name recorded on what it does, and its roles.</summary>
internal sealed record Caller(string Name, IReadOnlySet<Role> Roles)
{
    /// <summary>A call to a master (or a kind of call) that has no token at all: loopback only, may do anything.</summary>
    public static readonly Caller Open = new("", new HashSet<Role> { Role.Admin });

    public string RoleNames => string.Join(", ", Roles.Order().Select(r => r.ToString().ToLowerInvariant()));
}

/// <summary>One line of TOKENS_FILE: a name, its role and the SHA-256 of its token.</summary>
internal sealed record NamedToken(string Name, Role Role, byte[] Sha256);

/// <summary>
/// TOKENS_FILE: one token per line, <c>name role sha256:HEX</c> (HEX the SHA-256 of the token, as
/// <c>printf %s "$TOKEN" | sha256sum</c> prints it); <c>#</c> starts a comment. The master stores only hashes, so the
/// file reveals no token. Every problem is reported with its line, and the master does not start.
/// </summary>
internal static partial class NamedTokens
{
    /// <summary>The names API_TOKEN and WORKER_TOKEN are recorded under; a file may not take them.</summary>
    public const string ApiTokenName = "api-token", WorkerTokenName = "worker-token";

    public static IReadOnlyList<NamedToken> Parse(string text, string source, List<string> problems)
    {
        var tokens = new List<NamedToken>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var hash = line.IndexOf('#', StringComparison.Ordinal);
            var fields = (hash >= 0 ? line[..hash] : line).Split((char[])[' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0)
            {
                continue;
            }

            var where = $"{source} line {i + 1}";
            if (fields.Length != 3)
            {
                problems.Add($"{where}: expected \"name role sha256:HEX\", found {fields.Length} field(s)");
                continue;
            }

            var (name, roleText, digest) = (fields[0], fields[1], fields[2]);
            if (!NameRules.IsValidTokenName(name))
            {
                problems.Add($"{where}: name \"{name}\" {NameRules.TokenNameRule}");
                continue;
            }

            if (name is ApiTokenName or WorkerTokenName)
            {
                problems.Add($"{where}: the name {name} is kept for the token in {(name == ApiTokenName ? "API_TOKEN" : "WORKER_TOKEN")}; choose another");
                continue;
            }

            if (!Enum.TryParse<Role>(roleText, ignoreCase: true, out var role) || !Enum.IsDefined(role) || int.TryParse(roleText, out _))
            {
                problems.Add($"{where}: role \"{roleText}\" is not one of viewer, operator, worker, admin");
                continue;
            }

            if (!digest.StartsWith("sha256:", StringComparison.Ordinal) || !HexRule().IsMatch(digest[7..]))
            {
                problems.Add($"{where}: the token is given as sha256:HEX (64 hex digits: printf %s \"$TOKEN\" | sha256sum), not \"{(digest.Length > 12 ? digest[..12] + "…" : digest)}\"");
                continue;
            }

            var sha = Convert.FromHexString(digest[7..]);
            if (tokens.FirstOrDefault(t => t.Name == name) is not null)
            {
                problems.Add($"{where}: {name} is named twice");
                continue;
            }

            if (tokens.FirstOrDefault(t => t.Sha256.AsSpan().SequenceEqual(sha)) is { } same)
            {
                problems.Add($"{where}: {name} has the same token as {same.Name}; each name needs a token of its own");
                continue;
            }

            tokens.Add(new NamedToken(name, role, sha));
        }

        if (tokens.Count == 0 && problems.Count == 0)
        {
            problems.Add($"{source} names no token: add lines \"name role sha256:HEX\" (or unset TOKENS_FILE)");
        }

        return tokens;
    }

    [GeneratedRegex("^[0-9a-fA-F]{64}$")]
    private static partial Regex HexRule();
}
