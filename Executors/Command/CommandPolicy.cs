
namespace DistributedExecutor.Executors.Command;

/// <summary>
/// Allow and block lists checked against the resolved executable. A name entry is resolved on the default
/// PATH; a blocked name also matches any file of that name, wherever it lives.
/// </summary>
internal sealed class CommandPolicy
{
    private readonly HashSet<string> _allowedPaths;
    private readonly HashSet<string> _blockedPaths;
    private readonly HashSet<string> _blockedNames;

    public CommandPolicy(CommandExecutorOptions options)
    {
        Enabled = options.Enabled;
        _allowedPaths = Resolve(options.Allowed);
        _blockedPaths = Resolve(options.Blocked);
        _blockedNames = options.Blocked.Where(e => !e.Contains('/')).ToHashSet(StringComparer.Ordinal);
        foreach (var path in _blockedPaths)
        {
            _blockedNames.Add(Path.GetFileName(path));
        }

        HasAllowList = options.Allowed.Count > 0;
        _environment = new EnvironmentPolicy(options);
    }

    private readonly EnvironmentPolicy _environment;

    /// <summary>Null when the task's env may be set as given, else the reason it may not.</summary>
    public string? CheckEnvironment(IReadOnlyDictionary<string, string> environment) => _environment.Check(environment);

    public bool Enabled { get; }

    public bool HasAllowList { get; }

    /// <summary>Null when <paramref name="realPath"/> may run, else the reason it may not.</summary>
    public string? Check(string program, string realPath)
    {
        if (!Enabled)
        {
            return "the command executor is disabled (EXECUTOR_COMMAND_ENABLED=false)";
        }

        if (_blockedPaths.Contains(realPath) || _blockedNames.Contains(Path.GetFileName(realPath)))
        {
            return $"{program} (resolved to {realPath}) is blocked by EXECUTOR_COMMAND_BLOCKED";
        }

        if (HasAllowList && !_allowedPaths.Contains(realPath))
        {
            return $"{program} (resolved to {realPath}) is not in EXECUTOR_COMMAND_ALLOWED";
        }

        return null;
    }

    private static HashSet<string> Resolve(IEnumerable<string> entries)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (ExecutableResolver.TryResolve(entry, ExecutableResolver.DefaultPath, "/", out var real, out _))
            {
                set.Add(real);
            }
            else if (entry.StartsWith('/'))
            {
                // Not on this machine (yet): keep the literal path so it still matches if it appears.
                set.Add(Path.GetFullPath(entry));
            }
        }

        return set;
    }
}
