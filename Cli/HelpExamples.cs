using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace DistributedExecutor.Cli;

/// <summary>
/// Every verb's help ends with examples to copy: the help System.CommandLine writes, then "Examples:" for the verb
/// asked about (the root's for bare distctl).
/// </summary>
internal static class HelpExamples
{
    private static readonly Dictionary<string, string[]> Examples = new(StringComparer.Ordinal)
    {
        ["distctl"] =
        [
            "distctl run --wait -- echo hello world",
            "distctl run --items-file hosts.txt --max-parallel 10 --wait -- ssh {} uptime",
            "distctl list --state failed",
            "distctl logs -f <job-id>",
        ],
        ["run"] =
        [
            "distctl run --wait -- echo hello world            # the output, and its exit code",
            "distctl run -t 5m --retries 2 -- ./nightly.sh     # a job id; retried twice on failure",
            "distctl run --items a b c --wait -- echo item {}  # one task per item, lines prefixed [a] …",
            "distctl run --http https://example.com/health --expect 200-299 --wait",
            "distctl run -f job.yaml --wait                    # the whole JobSpec from a file",
        ],
        ["status"] = ["distctl status <job-id>", "distctl status <job-id> --tasks -o yaml", "distctl status 3f2a   # any unique prefix of 4 or more"],
        ["logs"] = ["distctl logs -f <job-id>", "distctl logs <job-id> --item web-3 --stderr", "distctl logs <job-id> --tail 20"],
        ["cancel"] = ["distctl cancel <job-id>"],
        ["list"] = ["distctl list --state running", "distctl list --search backup -o wide   # jobs running a command with 'backup', or an item named so", "distctl list --label team=data --submitted-by alice", "distctl list --state failed -q | xargs -n1 distctl rerun --failed"],
        ["workers"] = ["distctl workers", "distctl workers -o json"],
        ["pools"] = ["distctl pools", "distctl pools -o json | jq '.[] | select(.queuedTasks > 100) | .name'"],
        ["wait"] = ["distctl wait <job-id> --timeout 10m && echo done"],
        ["rerun"] = ["distctl rerun <job-id> --failed --wait"],
        ["version"] = ["distctl version"],
        ["completion"] = ["source <(distctl completion bash)", "distctl completion zsh > \"${fpath[1]}/_distctl\"", "distctl completion fish > ~/.config/fish/completions/distctl.fish"],
        ["whoami"] = ["distctl --token \"$TOKEN\" whoami"],
        ["new"] = ["distctl token new alice operator > alice.token   # the TOKENS_FILE line goes to stderr"],
    };

    /// <summary>Makes the help option of <paramref name="root"/> (shared by every verb) end with the verb's examples.</summary>
    public static void Install(RootCommand root)
    {
        foreach (var help in root.Options.OfType<HelpOption>())
        {
            if (help.Action is HelpAction standard)
            {
                help.Action = new WithExamples(standard);
            }
        }
    }

    /// <summary>Whether the parse asks for help (which wins over a missing argument, as --help should).</summary>
    public static bool IsHelp(ParseResult result) => result.Action is WithExamples or HelpAction;

    private sealed class WithExamples(HelpAction standard) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var result = standard.Invoke(parseResult);
            var command = parseResult.CommandResult.Command;
            if (Examples.TryGetValue(command is RootCommand ? "distctl" : command.Name, out var examples))
            {
                var output = parseResult.InvocationConfiguration.Output;
                output.WriteLine("Examples:");
                foreach (var example in examples)
                {
                    output.WriteLine($"  {example}");
                }

                output.WriteLine();
            }

            return result;
        }
    }
}
