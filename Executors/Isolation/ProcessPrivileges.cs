using System.Globalization;
using System.Runtime.InteropServices;

namespace DistributedExecutor.Executors.Isolation;

/// <summary>What this process may do to other users' processes, and the switch that hides it from them.</summary>
internal static partial class ProcessPrivileges
{
    public const int CapKill = 5;
    public const int CapSetGid = 6;
    public const int CapSetUid = 7;

    private const int PrSetDumpable = 4;
    private const int PrGetDumpable = 3;

    public static int EffectiveUid => GetEuid();

    public static int EffectiveGid => GetEgid();

    /// <summary>
    /// Marks this process non-dumpable: its /proc/&lt;pid&gt; files (environ, mem, fd, maps …) then belong to root
    /// and no process of another — or even the same — unprivileged user may read them or attach to it. The
    /// kernel resets this on exec, so tasks started later are unaffected.
    /// </summary>
    public static void MakeNonDumpable()
    {
        if (PrCtl(PrSetDumpable, 0, 0, 0, 0) != 0)
        {
            throw new InvalidOperationException($"prctl(PR_SET_DUMPABLE, 0) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }

    public static bool IsDumpable => PrCtl(PrGetDumpable, 0, 0, 0, 0) == 1;

    /// <summary>Whether capability <paramref name="capability"/> is in this process's effective set (/proc/self/status CapEff).</summary>
    public static bool HasCapability(int capability)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("CapEff:", StringComparison.Ordinal)
                    && ulong.TryParse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var mask))
                {
                    return (mask & (1UL << capability)) != 0;
                }
            }
        }
        catch (IOException)
        {
        }

        return false;
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial int GetEuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    private static partial int GetEgid();

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int PrCtl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);
}
