using DistributedExecutor.Hosting.Telemetry;

namespace DistributedExecutor.Executors.Command;

/// <summary>
/// Which variables a task's env may set. An allow list of programs means little if the task can change what an
/// allowed program loads or runs through its environment (LD_PRELOAD, BASH_ENV, an exported bash function,
/// PYTHONSTARTUP, GIT_SSH_COMMAND …), so where EXECUTOR_COMMAND_ALLOWED is set, the family below is refused.
/// The list is a convenience, not a boundary: allowing a launcher or interpreter allows everything anyway.
/// </summary>
internal sealed class EnvironmentPolicy
{
    /// <summary>Names (exact, or a prefix ending in *) that change what a program loads or runs.</summary>
    public static readonly IReadOnlyList<string> DefaultBlocked =
    [
        // The dynamic loader and glibc (its own list of variables unsafe for set-uid programs).
        "LD_*", "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE",
        "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS",
        // Which program a name means, and the shells' start-up files, options and exported functions.
        "PATH", "SHELL", "BASH_*", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "IFS", "CDPATH", "GLOBIGNORE",
        "FPATH", "ZDOTDIR", "INPUTRC",
        // Interpreters and runtimes: start-up files, library paths, injected options.
        "PYTHON*", "PERL*", "RUBY*", "GEM_*", "NODE_*", "NPM_CONFIG_*", "LUA_*", "TCLLIBPATH", "PHPRC", "PHP_INI_SCAN_DIR",
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "DOTNET_*", "COMPlus_*", "CORECLR_*",
        "AWKPATH", "AWKLIBPATH", "R_PROFILE*", "R_ENVIRON*", "ERL_*",
        // Tools that run a command or load a module named by a variable.
        "GIT_*", "SSH_ASKPASS", "RSYNC_*", "LESSOPEN", "LESSCLOSE", "PAGER", "MANPAGER", "EDITOR", "VISUAL", "BROWSER",
        "MAKEFILES", "MAKEFLAGS", "MFLAGS", "TAR_OPTIONS", "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES", "CURL_HOME",
        "WGETRC", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS",
    ];

    private readonly IReadOnlyList<string> _blocked;
    private readonly IReadOnlyList<string>? _allowed;
    private readonly bool _explicitBlocked;

    public EnvironmentPolicy(CommandExecutorOptions options)
    {
        _allowed = options.EnvAllowed;
        _explicitBlocked = options.EnvBlocked is not null;
        _blocked = options.EnvBlocked ?? (options.Allowed.Count > 0 ? DefaultBlocked : []);
    }

    /// <summary>Null when every name in <paramref name="environment"/> may be set, else why not (all refused names).</summary>
    public string? Check(IReadOnlyDictionary<string, string> environment)
    {
        var refused = new List<string>();
        foreach (var name in environment.Keys.Order(StringComparer.Ordinal))
        {
            if (_explicitBlocked && Matches(_blocked, name))
            {
                refused.Add($"{name} (EXECUTOR_COMMAND_ENV_BLOCKED)");
            }
            else if (_allowed is not null)
            {
                if (!Matches(_allowed, name))
                {
                    refused.Add($"{name} (not in EXECUTOR_COMMAND_ENV_ALLOWED)");
                }
            }
            else if (!_explicitBlocked && Matches(_blocked, name))
            {
                refused.Add($"{name} (changes what an allowed program loads or runs)");
            }
        }

        return refused.Count == 0
            ? null
            : $"the task's env may not set {string.Join(", ", refused)}; see EXECUTOR_COMMAND_ENV_ALLOWED / EXECUTOR_COMMAND_ENV_BLOCKED";
    }

    /// <summary>Problems with a list of patterns (each a variable name, or a prefix ending in *).</summary>
    public static IEnumerable<string> Problems(string setting, IReadOnlyList<string>? patterns)
    {
        foreach (var pattern in patterns ?? [])
        {
            var name = pattern.EndsWith('*') ? pattern[..^1] : pattern;
            if (name.Length == 0 || name.Contains('*') || name.Contains('=') || name.Any(char.IsWhiteSpace))
            {
                yield return $"{setting}: '{pattern}' is not a variable name or a prefix ending in *";
            }
        }
    }

    private static bool Matches(IReadOnlyList<string> patterns, string name)
    {
        foreach (var pattern in patterns)
        {
            if (pattern.EndsWith('*')
                ? name.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal)
                : name.Equals(pattern, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
