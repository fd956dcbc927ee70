using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// The state values the store writes in its state columns. They are the store's own: the public API's
/// <see cref="TaskState"/> is mapped to and from them at the store's edge, so renumbering or adding a proto
/// value never rewrites stored data. (The numbers equal the proto's today, which kept the change free of a migration.)
/// </summary>
internal enum StoredState
{
    Queued = 1,
    Running = 2,
    Succeeded = 3,
    Failed = 4,
    TimedOut = 5,
    Canceled = 6,
    Lost = 7,
}

/// <summary>The mapping between stored and API states.</summary>
internal static class StoredStates
{
    public static TaskState ToApi(this StoredState state) => state switch
    {
        StoredState.Queued => TaskState.Queued,
        StoredState.Running => TaskState.Running,
        StoredState.Succeeded => TaskState.Succeeded,
        StoredState.Failed => TaskState.Failed,
        StoredState.TimedOut => TaskState.TimedOut,
        StoredState.Canceled => TaskState.Canceled,
        StoredState.Lost => TaskState.Lost,
        _ => throw new InvalidDataException($"the store holds an unknown state {(int)state}"),
    };

    public static StoredState ToStored(this TaskState state) => state switch
    {
        TaskState.Queued => StoredState.Queued,
        TaskState.Running => StoredState.Running,
        TaskState.Succeeded => StoredState.Succeeded,
        TaskState.Failed => StoredState.Failed,
        TaskState.TimedOut => StoredState.TimedOut,
        TaskState.Canceled => StoredState.Canceled,
        TaskState.Lost => StoredState.Lost,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "no stored form"),
    };

    /// <summary>The value a state column holds for <paramref name="state"/>.</summary>
    public static int Column(TaskState state) => (int)state.ToStored();

    /// <summary>The API state a state column's value stands for.</summary>
    public static TaskState FromColumn(int value) => ((StoredState)value).ToApi();
}
