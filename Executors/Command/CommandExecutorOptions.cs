namespace DistributedExecutor.Executors.Command;

/// <summary>The command executor's switches and policy (EXECUTOR_COMMAND_*).</summary>
internal sealed class CommandExecutorOptions
{
    /// <summary>EXECUTOR_COMMAND_ENABLED: run command tasks at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>EXECUTOR_COMMAND_ALLOWED: comma-separated names or absolute paths; empty allows all not blocked.</summary>
    public IReadOnlyList<string> Allowed { get; set; } = [];

    /// <summary>EXECUTOR_COMMAND_BLOCKED: comma-separated names or absolute paths never run.</summary>
    public IReadOnlyList<string> Blocked { get; set; } = [];

    /// <summary>EXECUTOR_COMMAND_ENV_ALLOWED: when set, the only variables (names or PREFIX*) a task's env may set.</summary>
    public IReadOnlyList<string>? EnvAllowed { get; set; }

    /// <summary>EXECUTOR_COMMAND_ENV_BLOCKED: variables (names or PREFIX*) a task's env may never set; unset: the loader, shell and interpreter family wherever EXECUTOR_COMMAND_ALLOWED is set ("none": nothing).</summary>
    public IReadOnlyList<string>? EnvBlocked { get; set; }
}
