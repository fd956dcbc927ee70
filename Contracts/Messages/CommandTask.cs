namespace DistributedExecutor.Contracts.Messages;

/// <summary>What the command executor runs: an argv, never a shell string.</summary>
public sealed record CommandTask(
    string Program,
    IReadOnlyList<string> Args,
    IReadOnlyDictionary<string, string> Env,
    string? WorkingDir);
