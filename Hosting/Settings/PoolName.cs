using System.Text.RegularExpressions;

namespace DistributedExecutor.Hosting.Settings;

/// <summary>Pool names become queue names (<c>distexec.tasks.&lt;pool&gt;</c>), so they are kept plain.</summary>
internal static partial class PoolName
{
    public const string Rule = "a pool name is 1 to 63 characters: lower-case letters, digits, '-' and '_', starting with a letter or digit";

    public static bool IsValid(string pool) => Pattern().IsMatch(pool);

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,62}$")]
    private static partial Regex Pattern();
}
