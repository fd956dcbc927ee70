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
            "distctl run -f nightly.yaml --wait                # a workflow: jobs with needs:, run as one",
            "distctl run --at 2026-12-01T02:00Z -- ./backup.sh  # Scheduled until then (or --in 10m)",
            "distctl run --after 3f2a,8c1d -- ./report.sh       # Waiting until both succeeded",
        ],
        ["status"] = ["distctl status <job-id>", "distctl status <job-id> --tasks -o yaml", "distctl status 3f2a   # any unique prefix of 4 or more"],
        ["logs"] = ["distctl logs -f <job-id>", "distctl logs <job-id> --item web-3 --stderr", "distctl logs <job-id> --tail 20"],
        ["cancel"] = ["distctl cancel <job-id>"],
        ["list"] = ["distctl list --state running", "distctl list --search backup -o wide   # jobs running a command with 'backup', or an item named so", "distctl list --label team=data --submitted-by alice", "distctl list --state failed -q | xargs -n1 distctl rerun --failed"],
        ["workers"] = ["distctl workers", "distctl workers --where zone=a -o json"],
        ["pools"] = ["distctl pools", "distctl pools -o json | jq '.[] | select(.queuedTasks > 100) | .name'"],
        ["wait"] = ["distctl wait <job-id> --timeout 10m && echo done"],
        ["rerun"] = ["distctl rerun <job-id> --failed --wait"],
        ["version"] = ["distctl version"],
        ["completion"] = ["source <(distctl completion bash)", "distctl completion zsh > \"${fpath[1]}/_distctl\"", "distctl completion fish > ~/.config/fish/completions/distctl.fish"],
        ["set"] = ["distctl limits set db-prod 2   # at most 2 tasks of --concurrency-key db-prod jobs at once"],
        ["whoami"] = ["distctl --token \"$TOKEN\" whoami"],
        ["create"] =
        [
            "distctl schedule create nightly --cron \"0 2 * * *\" --tz Europe/Berlin -- ./backup.sh",
            "distctl schedule create ping --cron \"*/5 * * * *\" --overlap skip --http https://example.com/health",
            "distctl schedule create sweep --cron @hourly --missed run-once --items-file hosts.txt -- ssh {} ./sweep",
        ],
        ["schedule"] = ["distctl schedule list", "distctl schedule get nightly", "distctl schedule trigger nightly", "distctl list --label schedule=nightly"],
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

    /// <summary>
    /// A verb with many options shows them in groups (the rest under "Other options"); options every verb takes
    /// come last. The standard help's lines are kept as they are, only regrouped.
    /// </summary>
    private static readonly Dictionary<string, (string Title, string[] Options)[]> Groups = new(StringComparer.Ordinal)
    {
        ["run"] =
        [
            ("What to run", ["--command", "--args", "--env", "--workdir", "--file", "--executor", "--param"]),
            ("HTTP calls", ["--http", "--method", "--header", "--data", "--data-file", "--expect", "--response-cap"]),
            ("Where and how", ["--pool", "--priority", "--timeout", "--all-workers", "--where", "--label", "--idempotency-key"]),
            ("When", ["--at", "--in", "--after", "--after-condition"]),
            ("Retries", ["--retries", "--backoff", "--max-backoff", "--retry-on"]),
            ("Batches and limits", ["--items", "--items-file", "--max-parallel", "--max-errors", "--concurrency-key", "--group"]),
            ("Waiting", ["--wait", "--quiet"]),
        ],
        ["create"] =
        [
            ("When", ["--cron", "--tz", "--overlap", "--missed"]),
            ("What to run", ["--command", "--args", "--env", "--workdir", "--executor", "--param"]),
            ("HTTP calls", ["--http", "--method", "--header", "--data", "--data-file", "--expect", "--response-cap"]),
            ("Where and how", ["--pool", "--priority", "--timeout", "--all-workers", "--where", "--label"]),
            ("Retries", ["--retries", "--backoff", "--max-backoff", "--retry-on"]),
            ("Batches and limits", ["--items", "--items-file", "--max-parallel", "--max-errors", "--concurrency-key"]),
        ],
        ["logs"] =
        [
            ("Which output", ["--item", "--task", "--stdout", "--stderr", "--tail", "--since"]),
            ("How", ["--follow", "--timestamps"]),
        ],
        ["list"] =
        [
            ("Filters", ["--state", "--pool", "--label", "--submitted-by", "--search", "--limit"]),
            ("Output", ["--output", "--quiet"]),
        ],
    };

    private static readonly string[] Connection = ["--master", "--token", "--token-file", "--ca-cert", "--context", "--help"];

    private sealed class WithExamples(HelpAction standard) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var command = parseResult.CommandResult.Command;
            int result;
            if (command is not RootCommand)
            {
                // Every verb: its own options first (in groups where it has many), the connection options last.
                var groups = Groups.GetValueOrDefault(command.Name, []);
                var output = parseResult.InvocationConfiguration.Output;
                var captured = new StringWriter();
                parseResult.InvocationConfiguration.Output = captured;
                try
                {
                    result = standard.Invoke(parseResult);
                }
                finally
                {
                    parseResult.InvocationConfiguration.Output = output;
                }

                output.Write(Regroup(captured.ToString(), groups));
            }
            else
            {
                result = standard.Invoke(parseResult);
            }
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

    /// <summary>The help text with its "Options:" section split into the groups, connection options last.</summary>
    private static string Regroup(string help, (string Title, string[] Options)[] groups)
    {
        var lines = help.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var start = Array.IndexOf(lines, "Options:");
        if (start < 0)
        {
            return help;
        }

        var end = start + 1;
        var options = new List<(string Name, List<string> Lines)>();
        for (; end < lines.Length && lines[end].Length > 0; end++)
        {
            var line = lines[end];
            if (line.StartsWith("  -", StringComparison.Ordinal))
            {
                var names = line.TrimStart().Split("  ", 2)[0].Split(", ").Select(n => n.Split(' ')[0]);
                options.Add((names.OrderByDescending(n => n.Length).First(), [line]));
            }
            else if (options.Count > 0)
            {
                options[^1].Lines.Add(line);
            }
        }

        var text = new System.Text.StringBuilder();
        foreach (var line in lines[..start])
        {
            text.Append(line).Append('\n');
        }

        var placed = new HashSet<string>(StringComparer.Ordinal);
        void Section(string title, IEnumerable<string> names)
        {
            var members = names.SelectMany(n => options.Where(o => o.Name == n)).ToList();
            if (members.Count == 0)
            {
                return;
            }

            text.Append(title).Append(":\n");
            foreach (var (name, optionLines) in members)
            {
                placed.Add(name);
                optionLines.ForEach(l => text.Append(l).Append('\n'));
            }

            text.Append('\n');
        }

        foreach (var (title, names) in groups)
        {
            Section(title, names);
        }

        Section(groups.Length == 0 ? "Options" : "Other options", options.Select(o => o.Name).Where(n => !Connection.Contains(n) && !groups.Any(g => g.Options.Contains(n))));
        Section("Connection (every verb)", Connection);
        foreach (var line in lines[(end + 1)..])
        {
            text.Append(line).Append('\n');
        }

        return text.ToString().TrimEnd('\n') + "\n\n";
    }
}
