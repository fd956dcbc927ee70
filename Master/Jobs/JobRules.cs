using System.Text.RegularExpressions;
using DistributedExecutor.Contracts.Naming;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Executors;

namespace DistributedExecutor.Master.Jobs;

/// <summary>Limits on a job's labels, idempotency key, batch items and retry policy.</summary>
internal static partial class JobRules
{
    /// <summary>What a task runs as one line (the jobs list's command column and its search): program and arguments,
    /// "METHOD url" for HTTP, the executor's name for a plug-in; cut at 200 characters.</summary>
    public static string Summary(TaskSpec spec)
    {
        var text = spec.ExecutorCase switch
        {
            TaskSpec.ExecutorOneofCase.Command => string.Join(' ', new[] { spec.Command.Program }.Concat(spec.Command.Args)),
            TaskSpec.ExecutorOneofCase.Http => $"{(spec.Http.Method.Length > 0 ? spec.Http.Method : "GET")} {spec.Http.Url}",
            TaskSpec.ExecutorOneofCase.Plugin => spec.Plugin.Executor,
            _ => "",
        };
        return text.Length <= 200 ? text : text[..199] + "…";
    }

    public const int MaxLabels = 64;
    public const int MaxLabelValue = 256;
    public const int MaxIdempotencyKey = 256;
    public const int MaxItem = 4096;
    public const int MaxRetryAttempts = 100;
    public static readonly TimeSpan DefaultInitialBackoff = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan DefaultMaxBackoff = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan LongestBackoff = TimeSpan.FromDays(1);

    public const string LabelKeyRule = NameRules.LabelKeyRule;

    public static bool IsValidLabelKey(string key) => NameRules.IsValidLabelKey(key);

    public static void CheckJob(JobSpec spec, List<string> problems)
    {
        if (spec.IdempotencyKey.Length > MaxIdempotencyKey || SpecText.HasInvalidUtf8(spec.IdempotencyKey) || spec.IdempotencyKey.Any(char.IsControl))
        {
            problems.Add($"idempotency_key must be at most {MaxIdempotencyKey} printable characters");
        }

        if (spec.MaxParallel < 0)
        {
            problems.Add($"max_parallel {spec.MaxParallel} must not be negative (0: no limit)");
        }

        if (spec.MaxErrors < 0)
        {
            problems.Add($"max_errors {spec.MaxErrors} must not be negative (0: no limit)");
        }

        if (!Enum.IsDefined(spec.Priority))
        {
            problems.Add($"priority {(int)spec.Priority} is not high, normal or low");
        }

        if (spec.After.Count > 100 || !Enum.IsDefined(spec.AfterCondition))
        {
            problems.Add("after names at most 100 jobs, and after_condition is succeeded or finished");
        }

        if (spec.ConcurrencyKey.Length > 0 && !IsValidLabelKey(spec.ConcurrencyKey))
        {
            problems.Add($"concurrency_key \"{SpecText.Printable(spec.ConcurrencyKey)}\": {LabelKeyRule.Replace("label keys are", "keys are", StringComparison.Ordinal)}");
        }

        if (spec.Where.Count > 0)
        {
            ParseWhere(spec.Where, problems);
            if (!spec.AllWorkers)
            {
                problems.Add("where picks the workers of an all_workers job (distctl run --all-workers --where key=value)");
            }
        }

        if (spec.Labels.Count > MaxLabels)
        {
            problems.Add($"a job may carry at most {MaxLabels} labels; this one has {spec.Labels.Count}");
        }

        foreach (var (key, value) in spec.Labels.Take(MaxLabels + 1))
        {
            if (!IsValidLabelKey(key))
            {
                problems.Add($"label \"{SpecText.Printable(key)}\": {LabelKeyRule}");
            }
            else if (value.Length > MaxLabelValue || value.Any(char.IsControl) || SpecText.HasInvalidUtf8(value))
            {
                problems.Add($"label {key}: the value must be at most {MaxLabelValue} printable characters");
            }
        }
    }

    /// <summary>"key=value" selectors (JobSpec.where, ListWorkersRequest.where) as a map; what is wrong with them goes to <paramref name="problems"/>.</summary>
    public static Dictionary<string, string> ParseWhere(IEnumerable<string> selectors, List<string> problems)
    {
        var where = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var selector in selectors.Take(MaxLabels + 1))
        {
            var eq = selector.IndexOf('=', StringComparison.Ordinal);
            var key = eq > 0 ? selector[..eq] : "";
            if (eq <= 0 || !IsValidLabelKey(key))
            {
                problems.Add($"where \"{SpecText.Printable(selector)}\" is not key=value ({LabelKeyRule})");
            }
            else if (!where.TryAdd(key, selector[(eq + 1)..]))
            {
                problems.Add($"where names {key} twice");
            }
        }

        return where;
    }

    /// <summary>A worker's labels (WORKER_LABELS) as a job's: the same keys, values of at most 256 printable characters.</summary>
    public static string? CheckWorkerLabels(IReadOnlyDictionary<string, string> labels) =>
        labels.Count > MaxLabels ? $"at most {MaxLabels} labels"
        : labels.FirstOrDefault(l => !IsValidLabelKey(l.Key) || l.Value.Length > MaxLabelValue || l.Value.Any(char.IsControl)) is { Key: not null } bad
            ? $"label \"{SpecText.Printable(bad.Key)}\": {LabelKeyRule}, values at most {MaxLabelValue} printable characters"
            : null;

    public static void CheckTask(TaskSpec task, string where, List<string> problems)
    {
        if (task.Item.Length > MaxItem || SpecText.HasInvalidUtf8(task.Item) || task.Item.Contains('\0', StringComparison.Ordinal))
        {
            problems.Add($"{where}item must be at most {MaxItem} characters of valid text");
        }

        if (task.Retry is not { } retry)
        {
            return;
        }

        if (retry.MaxAttempts is < 1 or > MaxRetryAttempts)
        {
            problems.Add($"{where}retry.max_attempts {retry.MaxAttempts} must be between 1 and {MaxRetryAttempts} (runs in all, the first included)");
        }

        foreach (var (name, duration) in new[] { ("initial_backoff", retry.InitialBackoff), ("max_backoff", retry.MaxBackoff) })
        {
            if (duration is null)
            {
                continue;
            }

            if (duration.Seconds < 0 || duration.Nanos < 0 || duration.Nanos >= 1_000_000_000)
            {
                problems.Add($"{where}retry.{name} must be a non-negative duration");
            }
            else if (duration.ToTimeSpan() > LongestBackoff)
            {
                problems.Add($"{where}retry.{name} may be at most {LongestBackoff.TotalHours:0}h");
            }
        }

        if (retry.RetryOn.Any(r => !Enum.IsDefined(r) || r == RetryOn.Unspecified))
        {
            problems.Add($"{where}retry.retry_on holds an unknown outcome");
        }
    }

    /// <summary>The delay before retry number <paramref name="retry"/> (1 for the first): exponential, capped, with jitter in [d/2, d].</summary>
    public static TimeSpan Backoff(RetryPolicy policy, int retry, double random)
    {
        var initial = policy.InitialBackoff?.ToTimeSpan() ?? DefaultInitialBackoff;
        var cap = policy.MaxBackoff?.ToTimeSpan() ?? DefaultMaxBackoff;
        var exponential = initial.TotalMilliseconds * Math.Pow(2, Math.Min(retry - 1, 40));
        var delay = Math.Min(exponential, Math.Max(cap.TotalMilliseconds, initial.TotalMilliseconds));
        return TimeSpan.FromMilliseconds(delay * (0.5 + (random / 2)));
    }

    /// <summary>Whether an attempt that ended <paramref name="state"/> (HTTP status if any) is one the policy retries.</summary>
    public static bool Retries(RetryPolicy policy, TaskState state, int? httpStatus)
    {
        var on = policy.RetryOn.Count == 0 ? [RetryOn.Failed, RetryOn.TimedOut] : policy.RetryOn.ToList();
        return state switch
        {
            TaskState.Failed => on.Contains(RetryOn.Failed) || (on.Contains(RetryOn.Http5Xx) && httpStatus is >= 500 and <= 599),
            TaskState.TimedOut => on.Contains(RetryOn.TimedOut),
            _ => false,
        };
    }
}
