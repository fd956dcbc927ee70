using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Worker.Executors;
using DistributedExecutor.Worker.Options;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// Checks a submission whole: every problem is reported at once (INVALID_ARGUMENT), and policy is checked
/// here too (PERMISSION_DENIED) so nothing forbidden is ever published.
/// </summary>
internal sealed class SubmissionValidator(MasterOptions options, ExecutorRegistry executors)
{
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
            problems.Add($"pool \"{spec.Pool}\": {PoolName.Rule}");
        }

        if (spec.Tasks.Count == 0)
        {
            problems.Add("a job needs at least one task");
        }
        else if (spec.Tasks.Count > options.MaxTasksPerJob)
        {
            problems.Add($"a job may have at most {options.MaxTasksPerJob} tasks (MAX_TASKS_PER_JOB); this one has {spec.Tasks.Count}");
        }

        var defaultTimeout = TimeSpan.FromSeconds(options.DefaultTaskTimeoutSeconds);
        for (var i = 0; i < spec.Tasks.Count && problems.Count < 20; i++)
        {
            var task = spec.Tasks[i];
            var where = spec.Tasks.Count == 1 ? "" : $"task {i}: ";
            if (task.Timeout is { } timeout)
            {
                var seconds = timeout.ToTimeSpan().TotalSeconds;
                if (seconds <= 0)
                {
                    problems.Add($"{where}timeout must be positive");
                }
                else if (seconds > options.MaxTaskTimeoutSeconds)
                {
                    problems.Add($"{where}timeout {seconds:0.###}s exceeds the maximum of {options.MaxTaskTimeoutSeconds}s (MAX_TASK_TIMEOUT_SECONDS)");
                }
            }

            if (task.ExecutorCase == TaskSpec.ExecutorOneofCase.None)
            {
                problems.Add($"{where}no executor spec (set command)");
                continue;
            }

            var message = TaskMessages.ToExecuteTask(Guid.Empty, Guid.Empty, i, task, defaultTimeout);
            if (executors.Find(message.Executor) is not { } executor)
            {
                problems.Add($"{where}executor \"{message.Executor}\" is not enabled on the master");
                continue;
            }

            var verdict = executor.Validate(message);
            if (verdict.Denied is { } denied)
            {
                return new SubmissionVerdict(problems, $"{where}{denied}");
            }

            problems.AddRange(verdict.Problems.Select(p => where + p));
        }

        return new SubmissionVerdict(problems, null);
    }
}

/// <summary>What is wrong with a submission (if anything), and whether policy refuses it.</summary>
internal sealed record SubmissionVerdict(IReadOnlyList<string> Problems, string? Denied);
