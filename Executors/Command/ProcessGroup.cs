using System.Runtime.InteropServices;

namespace DistributedExecutor.Executors.Command;

/// <summary>
/// Signals a whole process group. Tasks start in a session of their own (<see cref="SpawnedProcess"/>), so the
/// task's pid is also its group id and children that re-parented themselves are still in the group.
/// </summary>
internal static partial class ProcessGroup
{
    public const int SigTerm = 15;
    public const int SigKill = 9;

    /// <summary>Sends <paramref name="signal"/> to every process of group <paramref name="groupId"/>; false when none is left.</summary>
    public static bool Signal(int groupId, int signal) => groupId > 1 && Kill(-groupId, signal) == 0;

    /// <summary>Sends <paramref name="signal"/> to process <paramref name="pid"/> alone; false when it is gone (or not ours to signal).</summary>
    public static bool SignalProcess(int pid, int signal) => pid > 1 && Kill(pid, signal) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
