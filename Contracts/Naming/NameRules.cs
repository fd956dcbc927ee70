using System.Text.RegularExpressions;

namespace DistributedExecutor.Contracts.Naming;

/// <summary>
/// The names the master, workers and distctl must agree on, stated once: label keys (jobs' labels, concurrency keys,
/// WORKER_LABELS, --where), schedule names and token names (TOKENS_FILE, <c>distctl token new</c>).
/// </summary>
public static partial class NameRules
{
    public const string LabelKeyRule = "label keys are 1-63 letters, digits, '.', '_', '-' or '/', starting with a letter or digit";

    public const string ScheduleNameRule = "schedule names are 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit";

    public const string TokenNameRule = "must be 1-64 letters, digits, '.', '_', '@' or '-'";

    public static bool IsValidLabelKey(string key) => LabelKey().IsMatch(key);

    public static bool IsValidScheduleName(string name) => ScheduleName().IsMatch(name);

    public static bool IsValidTokenName(string name) => TokenName().IsMatch(name);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$")]
    private static partial Regex LabelKey();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex ScheduleName();

    [GeneratedRegex("^[A-Za-z0-9._@-]{1,64}$")]
    private static partial Regex TokenName();
}
