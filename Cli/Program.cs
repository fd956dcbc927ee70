using System.CommandLine;
using DistributedExecutor.Cli;
using DistributedExecutor.Cli.Commands;

var root = new RootCommand("distctl: run commands across a fleet of workers")
{
    GlobalOptions.Master,
    GlobalOptions.Token,
    GlobalOptions.TokenFile,
    GlobalOptions.CaCert,
    GlobalOptions.Context,
    RunCommand.Create(),
    StatusCommand.Create(),
    LogsCommand.Create(),
    CancelCommand.Create(),
    ListCommand.Create(),
    WorkersCommand.Create(),
    PoolsCommand.Create(),
    LimitsCommand.Create(),
    ScheduleCommand.Create(),
    WaitCommand.Create(),
    VersionCommand.Create(),
    CompletionCommand.Create(),
    RerunCommand.Create(),
    WhoAmICommand.Create(),
    TokenCommand.Create(),
};

HelpExamples.Install(root);

// Bare distctl: the help, not an error.
// No response files: "@daily" (a cron macro) or an item "@home" is a word, never a file to read arguments from.
var result = root.Parse(args.Length == 0 ? ["--help"] : args, new ParserConfiguration { ResponseFileTokenReplacer = null });
if (result.Errors.Count > 0 && !HelpExamples.IsHelp(result))
{
    foreach (var message in result.Errors.Select(e => e.Message).Distinct(StringComparer.Ordinal))
    {
        Console.Error.WriteLine($"distctl: {message}");
    }

    Console.Error.WriteLine("Run 'distctl --help' for usage.");
    return ExitCodes.Usage;
}

// With OTEL_* set, one trace starts here and follows the job through master, broker and worker.
using var tracing = CliTracing.Start(args);
Interrupts.Install();
return await result.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
