using DistributedExecutor.Contracts.Messages;

namespace DistributedExecutor.Executors.Command;

/// <summary>Limits on what a command spec may carry, each with an error a person can act on.</summary>
internal static class CommandSpecRules
{
    public const int MaxArgs = 4096;
    public const int MaxArgvBytes = 1024 * 1024;
    public const int MaxEnvEntries = 256;
    public const int MaxEnvBytes = 256 * 1024;
    public const int MaxProgramLength = 4096;

    public static IReadOnlyList<string> Check(CommandTask spec)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(spec.Program))
        {
            problems.Add("command.program is empty");
        }
        else if (spec.Program.Contains('\0'))
        {
            problems.Add("command.program contains a NUL character");
        }
        else if (spec.Program.Length > MaxProgramLength)
        {
            problems.Add($"command.program is {spec.Program.Length} characters; at most {MaxProgramLength} are allowed");
        }

        if (SpecText.HasInvalidUtf8(spec.Program) || spec.Args.Any(SpecText.HasInvalidUtf8) || spec.Env.Any(e => SpecText.HasInvalidUtf8(e.Key) || SpecText.HasInvalidUtf8(e.Value))
            || SpecText.HasInvalidUtf8(spec.WorkingDir ?? ""))
        {
            problems.Add("the command spec holds text that was not valid UTF-8 (it arrived as U+FFFD); send UTF-8");
        }

        if (spec.Args.Count > MaxArgs)
        {
            problems.Add($"command.args has {spec.Args.Count} entries; at most {MaxArgs} are allowed");
        }

        var argvBytes = spec.Args.Sum(a => (long)System.Text.Encoding.UTF8.GetByteCount(a) + 1);
        if (argvBytes > MaxArgvBytes)
        {
            problems.Add($"command.args take {argvBytes} bytes; at most {MaxArgvBytes} are allowed");
        }

        if (spec.Args.Any(a => a.Contains('\0')))
        {
            problems.Add("command.args contain a NUL character");
        }

        if (spec.Env.Count > MaxEnvEntries)
        {
            problems.Add($"command.env has {spec.Env.Count} entries; at most {MaxEnvEntries} are allowed");
        }

        var envBytes = spec.Env.Sum(e => (long)e.Key.Length + e.Value.Length + 2);
        if (envBytes > MaxEnvBytes)
        {
            problems.Add($"command.env takes {envBytes} bytes; at most {MaxEnvBytes} are allowed");
        }

        foreach (var key in spec.Env.Keys)
        {
            if (key.Length == 0 || key.Contains('=') || key.Contains('\0'))
            {
                problems.Add($"command.env has an invalid name \"{key}\" (empty, or with '=' or NUL)");
            }
        }

        if (spec.Env.Values.Any(v => v.Contains('\0')))
        {
            problems.Add("command.env has a value with a NUL character");
        }

        if (spec.WorkingDir is { } dir && dir.Contains('\0'))
        {
            problems.Add("command.working_dir contains a NUL character");
        }
        else if (!string.IsNullOrEmpty(spec.WorkingDir) && !spec.WorkingDir.StartsWith('/'))
        {
            problems.Add($"command.working_dir \"{spec.WorkingDir}\" must be an absolute path");
        }

        return problems;
    }
}
