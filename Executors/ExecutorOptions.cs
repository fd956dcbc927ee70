using DistributedExecutor.Executors.Command;
using DistributedExecutor.Executors.Http;
using DistributedExecutor.Executors.Isolation;
using DistributedExecutor.Hosting.Settings;

namespace DistributedExecutor.Executors;

/// <summary>
/// What the executors need: their switches and policy, how tasks are isolated and stopped. The master reads the
/// same settings to validate submissions with exactly the checks a worker applies.
/// </summary>
internal sealed class ExecutorOptions
{
    /// <summary>KILL_GRACE_SECONDS: between TERM and KILL of every process of a task.</summary>
    public int KillGraceSeconds { get; set; } = 5;

    /// <summary>TASK_USER: the user tasks run as (name, uid or uid:gid; "inherit": the worker's own). Unset: nobody when root, else the worker's own.</summary>
    public string? TaskUser { get; set; }

    /// <summary>TASK_CONTAINMENT: auto (a cgroup v2 per task where one can be made, else a subreaper), cgroup (required) or reaper.</summary>
    public string TaskContainment { get; set; } = "auto";

    /// <summary>EXECUTOR_PLUGINS_DIR: a folder of executor plug-in assemblies (*.dll) loaded at start.</summary>
    public string? PluginsDirectory { get; set; }

    public CommandExecutorOptions Command { get; set; } = new();

    public HttpExecutorOptions Http { get; set; } = new();

    /// <summary>Reads every executor setting, collecting all problems in <paramref name="settings"/>.</summary>
    public static ExecutorOptions Load(SettingsReader settings)
    {
        var defaults = new ExecutorOptions();
        var options = new ExecutorOptions
        {
            KillGraceSeconds = settings.Int("KILL_GRACE_SECONDS", defaults.KillGraceSeconds, 0, 3_600),
            TaskUser = settings.OptionalString("TASK_USER"),
            TaskContainment = settings.String("TASK_CONTAINMENT", defaults.TaskContainment).ToLowerInvariant(),
            PluginsDirectory = settings.OptionalString("EXECUTOR_PLUGINS_DIR"),
            Command = new CommandExecutorOptions
            {
                Enabled = settings.Bool("EXECUTOR_COMMAND_ENABLED", true),
                Allowed = settings.List("EXECUTOR_COMMAND_ALLOWED"),
                Blocked = settings.List("EXECUTOR_COMMAND_BLOCKED"),
                EnvAllowed = settings.OptionalString("EXECUTOR_COMMAND_ENV_ALLOWED") is null ? null : settings.List("EXECUTOR_COMMAND_ENV_ALLOWED"),
                EnvBlocked = settings.OptionalString("EXECUTOR_COMMAND_ENV_BLOCKED") switch
                {
                    null => null,
                    var v when v.Equals("none", StringComparison.OrdinalIgnoreCase) => [],
                    _ => settings.List("EXECUTOR_COMMAND_ENV_BLOCKED"),
                },
            },
            Http = new HttpExecutorOptions
            {
                Enabled = settings.Bool("EXECUTOR_HTTP_ENABLED", true),
                Allowed = settings.List("EXECUTOR_HTTP_ALLOWED"),
                Blocked = settings.OptionalString("EXECUTOR_HTTP_BLOCKED") is null ? HttpExecutorOptions.DefaultBlocked : settings.List("EXECUTOR_HTTP_BLOCKED"),
            },
        };

        foreach (var problem in EnvironmentPolicy.Problems("EXECUTOR_COMMAND_ENV_ALLOWED", options.Command.EnvAllowed)
            .Concat(EnvironmentPolicy.Problems("EXECUTOR_COMMAND_ENV_BLOCKED", options.Command.EnvBlocked))
            .Concat(AddressPolicy.Problems("EXECUTOR_HTTP_ALLOWED", options.Http.Allowed))
            .Concat(AddressPolicy.Problems("EXECUTOR_HTTP_BLOCKED", options.Http.Blocked)))
        {
            settings.Fail(problem);
        }

        if (options.TaskContainment is not ("auto" or "cgroup" or "reaper"))
        {
            settings.Fail($"TASK_CONTAINMENT={options.TaskContainment} is not auto, cgroup or reaper");
        }

        if (options.PluginsDirectory is { } plugins && !Directory.Exists(plugins))
        {
            settings.Fail($"EXECUTOR_PLUGINS_DIR={plugins} is not a directory");
        }

        return options;
    }
}
