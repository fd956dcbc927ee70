namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// The rules of --max-parallel and --max-errors, kept pure so they can be tested without a store: which tasks
/// are held back at submission, when the tasks not yet started are skipped, and how many held tasks may go.
/// </summary>
internal static class JobLimits
{
    /// <summary>
    /// How many of a new job's tasks (the first ones) go at once: all, or up to --max-parallel, and never more than the
    /// room its concurrency key has left (<paramref name="keyRoom"/>, null: no limit). The rest wait (held).
    /// </summary>
    public static long GoingAtSubmission(int maxParallel, long? keyRoom, int taskCount) =>
        Math.Min(Math.Min(maxParallel > 0 ? maxParallel : taskCount, taskCount), Math.Max(0, keyRoom ?? long.MaxValue));

    /// <summary>Whether the job's tasks not yet started are skipped: <paramref name="failed"/> reached --max-errors.</summary>
    public static bool SkipsTheRest(long maxErrors, long failed) => maxErrors > 0 && failed >= maxErrors;

    /// <summary>How many held tasks may be released while <paramref name="busy"/> are queued or running.</summary>
    public static long Releasable(long maxParallel, long busy) => maxParallel <= 0 ? 0 : Math.Max(0, maxParallel - busy);

    /// <summary>The error a skipped task carries.</summary>
    public static string SkippedReason(long failed, long maxErrors) =>
        $"not started: {failed} task(s) failed, the most --max-errors allows ({maxErrors})";
}
