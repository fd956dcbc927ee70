using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Executors;
using DistributedExecutor.Hosting.Settings;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Master.Workers;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// Checks a submission whole: every problem is reported at once (INVALID_ARGUMENT), and policy is checked
/// here too (PERMISSION_DENIED) so nothing forbidden is ever published. An executor the master does not have
/// itself (a plug-in installed on workers only) is accepted only when a live worker of the pool offers it; one
/// it has is refused (FAILED_PRECONDITION) when the pool has live workers and none of them offers it. A pool
/// with no live worker at all still takes built-in tasks: they wait in its queue (scale from zero).
/// </summary>
internal sealed class SubmissionValidator(MasterOptions options, ExecutorRegistry executors, WorkerRegistry workers)
{
    /// <summary>The shortest timeout a task may ask for.</summary>
    public const double MinTimeoutSeconds = 0.01;

    public SubmissionVerdict Validate(JobSpec? spec)
    {
        var problems = new List<string>();
        if (spec is null)
        {
            return new SubmissionVerdict(["spec is required"], null);
        }

        var pool = spec.Pool.Length == 0 ? "default" : spec.Pool;
        if (!PoolName.IsValid(pool))
        {
            problems.Add($"pool \"{SpecText.Printable(spec.Pool)}\": {PoolName.Rule}");
        }

        JobRules.CheckJob(spec, problems);
        if (spec.Tasks.Count == 0)
        {
            problems.Add("a job needs at least one task");
        }
        else if (spec.Tasks.Count > options.MaxTasksPerJob)
        {
            problems.Add($"a job may have at most {options.MaxTasksPerJob} tasks (MAX_TASKS_PER_JOB); this one has {spec.Tasks.Count}");
        }

        var defaultTimeout = TimeSpan.FromSeconds(options.DefaultTaskTimeoutSeconds);
        string? precondition = null;
        for (var i = 0; i < spec.Tasks.Count && problems.Count < 20; i++)
        {
            var task = spec.Tasks[i];
            var where = spec.Tasks.Count == 1 ? "" : $"task {i}: ";
            JobRules.CheckTask(task, where, problems);
            if (task.Timeout is { } timeout)
            {
                if (!IsValidDuration(timeout))
                {
                    problems.Add($"{where}timeout is not a valid duration (seconds {timeout.Seconds}, nanos {timeout.Nanos})");
                    continue;
                }

                var seconds = timeout.Seconds + (timeout.Nanos / 1e9);
                if (seconds <= 0)
                {
                    problems.Add($"{where}timeout must be positive");
                }
                else if (seconds > options.MaxTaskTimeoutSeconds)
                {
                    problems.Add($"{where}timeout {seconds:0.###}s exceeds the maximum of {options.MaxTaskTimeoutSeconds}s (MAX_TASK_TIMEOUT_SECONDS)");
                }
                else if (seconds < MinTimeoutSeconds)
                {
                    problems.Add($"{where}timeout {seconds:0.###}s is shorter than the minimum of {MinTimeoutSeconds}s");
                }
            }

            if (task.ExecutorCase == TaskSpec.ExecutorOneofCase.None)
            {
                problems.Add($"{where}no executor spec (set command, http or plugin)");
                continue;
            }

            if (task.ExecutorCase == TaskSpec.ExecutorOneofCase.Plugin && task.Plugin.Executor.Length == 0)
            {
                problems.Add($"{where}plugin.executor is empty (name the plug-in executor to run)");
                continue;
            }

            var message = TaskMessages.ToExecuteTask(Guid.Empty, Guid.Empty, task, defaultTimeout);
            var offers = workers.Offers(pool);
            if (executors.Find(message.Executor) is not { } executor)
            {
                if (!offers.Executors.Contains(message.Executor))
                {
                    problems.Add($"{where}executor \"{SpecText.Printable(message.Executor)}\" is unknown: neither the master nor any live worker of pool \"{pool}\" offers it"
                        + (offers.Alive ? $" (they offer {string.Join(", ", offers.Executors.Order(StringComparer.Ordinal))})" : " (the pool has no live worker)"));
                }

                continue;
            }

            var verdict = executor.Validate(message);
            if (verdict.Denied is { } denied)
            {
                return new SubmissionVerdict(problems, $"{where}{denied}");
            }

            problems.AddRange(verdict.Problems.Select(p => where + p));
            if (offers.Alive && !offers.Executors.Contains(message.Executor))
            {
                precondition ??= $"{where}no live worker of pool \"{pool}\" offers the {message.Executor} executor (they offer {string.Join(", ", offers.Executors.Order(StringComparer.Ordinal))})";
            }
        }

        return new SubmissionVerdict(problems, null, precondition);
    }

    /// <summary>google.protobuf.Duration's own rules: nanos within ±999,999,999 with the sign of seconds, at most 10,000 years.</summary>
    private static bool IsValidDuration(Google.Protobuf.WellKnownTypes.Duration duration) =>
        duration.Seconds is >= -315_576_000_000 and <= 315_576_000_000
        && duration.Nanos is > -1_000_000_000 and < 1_000_000_000
        && (duration.Seconds == 0 || duration.Nanos == 0 || (duration.Seconds > 0) == (duration.Nanos > 0));
}

/// <summary>What is wrong with a submission (if anything), and whether policy refuses it.</summary>
internal sealed record SubmissionVerdict(IReadOnlyList<string> Problems, string? Denied, string? Precondition = null);
