namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// The rules of --max-parallel and --max-errors, kept pure so they can be tested without a store: which tasks
/// are held back at submission, when the tasks not yet started are skipped, and how many held tasks may go.
/// </summary>
internal static class JobLimits
{
    /// <summary>
    /// How many of a job's held tasks may go now, the one rule for submission and every release: up to --max-parallel
    /// (0: no limit) less its <paramref name="busy"/> tasks (queued or running), never more than the room its
    /// concurrency key has left (<paramref name="keyRoom"/>, null: no limit), nor than the <paramref name="held"/> ones.
    /// </summary>
    public static long MayGo(long maxParallel, long busy, long? keyRoom, long held) =>
        Math.Max(0, Math.Min(Math.Min(held, maxParallel > 0 ? maxParallel - busy : held), keyRoom ?? long.MaxValue));

    /// <summary>Whether the job's tasks not yet started are skipped: <paramref name="failed"/> reached --max-errors.</summary>
    public static bool SkipsTheRest(long maxErrors, long failed) => maxErrors > 0 && failed >= maxErrors;

    /// <summary>The error a skipped task carries.</summary>
    public static string SkippedReason(long failed, long maxErrors) =>
        $"not started: {failed} task(s) failed, the most --max-errors allows ({maxErrors})";
}
