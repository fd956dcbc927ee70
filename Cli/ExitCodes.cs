namespace DistributedExecutor.Cli;

/// <summary>
/// distctl's exit codes. With <c>--wait</c> a task's own exit code passes through (0-255); these mark what
/// is not an exit code. They follow timeout(1) and docker run where those have one.
/// </summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The job failed without an exit code of its own, or a verb failed.</summary>
    public const int Failure = 1;

    /// <summary>Bad command line.</summary>
    public const int Usage = 2;

    /// <summary>The master could not be reached (EX_UNAVAILABLE).</summary>
    public const int Unavailable = 69;

    /// <summary>The task hit its timeout (as timeout(1)).</summary>
    public const int TimedOut = 124;

    /// <summary>The master rejected the request: invalid, not permitted, over capacity or unauthenticated.</summary>
    public const int Rejected = 125;

    /// <summary>The program could not be started on the worker.</summary>
    public const int CouldNotStart = 126;

    /// <summary>The job was canceled (as a shell reports SIGINT).</summary>
    public const int Canceled = 130;
}
