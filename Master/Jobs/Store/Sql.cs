namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// The stored values SQL compares against, by name: the state columns hold <see cref="StoredState"/> values and
/// the failure columns <see cref="Contracts.Messages.FailureKind"/> numbers. Constants, so queries stay constant
/// strings; <see cref="Values_MatchTheEnums"/> is checked by a test.
/// </summary>
internal static class Sql
{
    public const string Queued = "1";
    public const string Running = "2";
    public const string Succeeded = "3";
    public const string Failed = "4";
    public const string TimedOut = "5";
    public const string Canceled = "6";
    public const string Lost = "7";

    /// <summary>Queued or running: what is not finished.</summary>
    public const string Unfinished = Queued + ", " + Running;

    /// <summary>Ended in failure (failed or timed out), what --max-errors counts.</summary>
    public const string Errors = Failed + ", " + TimedOut;

    public const string FailureLost = "5";

    /// <summary>The constants against the enums they stand for: (constant, enum value) pairs.</summary>
    public static IEnumerable<(string Constant, int Value)> Values_MatchTheEnums() =>
    [
        (Queued, (int)StoredState.Queued), (Running, (int)StoredState.Running), (Succeeded, (int)StoredState.Succeeded),
        (Failed, (int)StoredState.Failed), (TimedOut, (int)StoredState.TimedOut), (Canceled, (int)StoredState.Canceled),
        (Lost, (int)StoredState.Lost), (FailureLost, (int)Contracts.Messages.FailureKind.Lost),
    ];
}
