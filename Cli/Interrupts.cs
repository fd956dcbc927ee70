namespace DistributedExecutor.Cli;

/// <summary>
/// Ctrl-C (SIGINT), as ssh and xargs treat it: the first interrupt cancels <see cref="Token"/> so the verb can undo
/// what it started (run --wait cancels its job) and exit 130; a second one exits at once, saying what is left
/// behind (<see cref="LeftBehind"/>).
/// </summary>
internal static class Interrupts
{
    private static readonly CancellationTokenSource First = new();
    private static int _count;

    public static CancellationToken Token => First.Token;

    /// <summary>What a second interrupt says before exiting (the job still running and how to cancel it).</summary>
    public static string? LeftBehind { get; set; }

    public static void Install() => Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        if (Interlocked.Increment(ref _count) == 1)
        {
            First.Cancel();
            return;
        }

        Console.Error.WriteLine(LeftBehind ?? "distctl: interrupted");
        Environment.Exit(ExitCodes.Canceled);
    };
}
