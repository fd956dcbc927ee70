using System.CommandLine;

namespace DistributedExecutor.Cli.Commands;

/// <summary>
/// <c>distctl completion bash|zsh|fish</c>: a script that completes verbs and options by asking distctl itself
/// (System.CommandLine's [suggest] directive), so it never falls behind the program.
/// </summary>
internal static class CompletionCommand
{
    private const string Bash = """
        # distctl completion for bash: source <(distctl completion bash), or save it under
        # /etc/bash_completion.d/distctl
        _distctl_complete() {
            local IFS=$'\n'
            COMPREPLY=( $(distctl "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null) )
        }
        complete -o default -F _distctl_complete distctl

        """;

    private const string Zsh = """
        #compdef distctl
        # distctl completion for zsh: source <(distctl completion zsh), or save it as _distctl on your $fpath
        _distctl() {
            local -a completions
            completions=("${(@f)$(distctl "[suggest:${CURSOR}]" "${BUFFER}" 2>/dev/null)}")
            compadd -a completions
        }
        compdef _distctl distctl

        """;

    private const string Fish = """
        # distctl completion for fish: distctl completion fish > ~/.config/fish/completions/distctl.fish
        complete -c distctl -f -a '(distctl "[suggest:"(string length -- (commandline -cp))"]" (commandline -cp) 2>/dev/null)'

        """;

    public static Command Create()
    {
        var shell = new Argument<string>("shell") { Description = "bash, zsh or fish" };
        shell.AcceptOnlyFromAmong("bash", "zsh", "fish");
        var completion = new Command("completion", "Print a shell completion script (bash, zsh or fish); e.g. source <(distctl completion bash)") { shell };
        completion.SetAction(result =>
        {
            Console.Out.Write(result.GetValue(shell) switch
            {
                "bash" => Bash,
                "zsh" => Zsh,
                _ => Fish,
            });
            return ExitCodes.Success;
        });
        return completion;
    }
}
