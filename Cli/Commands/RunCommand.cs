using System.CommandLine;
using DistributedExecutor.Contracts.V1;
using Google.Protobuf.WellKnownTypes;

namespace DistributedExecutor.Cli.Commands;

/// <summary><c>distctl run</c>: submit a command; with --wait, follow its output and exit with its exit code.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var command = new Option<string?>("--command", "-c") { Description = "Program to run (or give it after --)" };
        var arguments = new Option<string?>("--args", "-a") { Description = "Arguments as one string, split like a shell splits words (quotes respected, nothing expanded)" };
        var wait = new Option<bool>("--wait", "-w") { Description = "Stream the output and exit with the task's exit code" };
        var timeout = new Option<string?>("--timeout", "-t") { Description = "Kill the task after this long (30s, 5m, 1h30m)" };
        var pool = new Option<string?>("--pool", "-p") { Description = "Worker pool (default: default)" };
        var env = new Option<string[]>("--env", "-e") { Description = "Environment variable KEY=VALUE for the task (repeatable)", AllowMultipleArgumentsPerToken = false };
        var workdir = new Option<string?>("--workdir") { Description = "Working directory on the worker (absolute)" };
        var argv = new Argument<string[]>("program-and-args")
        {
            Description = "After --: the program and its arguments, passed exactly",
            Arity = ArgumentArity.ZeroOrMore,
        };

        var run = new Command("run", "Submit a command as a job; prints the job id, or with --wait its output")
        {
            command, arguments, wait, timeout, pool, env, workdir, argv,
        };
        run.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            var spec = new CommandSpec();
            var given = result.GetValue(argv) ?? [];
            var program = result.GetValue(command);
            var args = result.GetValue(arguments);
            if (program is not null && given.Length > 0)
            {
                throw new UsageException("give the program either with --command or after --, not both");
            }

            if (program is null && given.Length == 0)
            {
                throw new UsageException("nothing to run: use --command PROGRAM [--args \"...\"] or -- PROGRAM ARG...");
            }

            if (program is null && args is not null)
            {
                throw new UsageException("--args goes with --command; after -- give the arguments directly");
            }

            spec.Program = program ?? given[0];
            spec.Args.AddRange(program is null ? given.Skip(1) : ShellWords.Split(args ?? ""));
            foreach (var pair in result.GetValue(env) ?? [])
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    throw new UsageException($"--env \"{pair}\" is not KEY=VALUE");
                }

                spec.Env[pair[..eq]] = pair[(eq + 1)..];
            }

            spec.WorkingDir = result.GetValue(workdir) ?? "";
            var task = new TaskSpec { Command = spec };
            if (result.GetValue(timeout) is { } t)
            {
                task.Timeout = Duration.FromTimeSpan(DurationParser.Parse(t));
            }

            var job = new JobSpec { Pool = result.GetValue(pool) ?? "" };
            job.Tasks.Add(task);

            using var master = GlobalOptions.Connect(result);
            var submitted = await master.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = job }, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!result.GetValue(wait))
            {
                Console.Out.WriteLine(submitted.Job.Id);
                return ExitCodes.Success;
            }

            var final = await JobWatcher.WatchAsync(master.Jobs, submitted.Job.Id, follow: true, prefixTasks: false, cancellationToken).ConfigureAwait(false);
            var code = JobWatcher.ExitCodeOf(final);
            if (final.State != TaskState.Succeeded && final.Tasks.FirstOrDefault(t => t.Error.Length > 0) is { } failed)
            {
                Console.Error.WriteLine($"distctl: job {final.Id} {Formatting.State(final.State)}: {failed.Error}");
            }

            return code;
        }));
        return run;
    }
}
