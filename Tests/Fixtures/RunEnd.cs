using System.Collections.Concurrent;

namespace DistributedExecutor.Tests.Fixtures;

/// <summary>
/// What the test run started once for all its tests (the private RabbitMQ and PostgreSQL servers) and stops when it
/// ends. The test host's ProcessExit is not enough: the runner may kill the host once the results are in, before its
/// handlers ran, and a server then outlived the run (seen after clean-clone CI runs) until the next run reaped it.
/// So in the tests the stops run when xunit disposes its test framework (<c>RunEndFramework</c>), inside the run;
/// ProcessExit stays as the fallback, and is what the bench, which exits on its own, relies on.
/// </summary>
public static class RunEnd
{
    private static readonly ConcurrentStack<Action> Stops = new();

    static RunEnd() => AppDomain.CurrentDomain.ProcessExit += (_, _) => StopAll();

    /// <summary>Stop this when the run ends.</summary>
    public static void Add(Action stop) => Stops.Push(stop);

    /// <summary>Runs every stop registered so far, all at once (each waits for its server), each once.</summary>
    public static void StopAll()
    {
        var stops = new List<Action>();
        while (Stops.TryPop(out var stop))
        {
            stops.Add(stop);
        }

        Task.WaitAll([.. stops.Select(stop => Task.Run(() =>
        {
            try
            {
                stop();
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                // Left to the next run's reaping of orphans.
            }
        }))]);
    }
}
