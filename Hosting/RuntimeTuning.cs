using System.Runtime.InteropServices;

namespace DistributedExecutor.Hosting;

/// <summary>
/// The runtime's tiering delay, off for the master and the workers. Tiered compilation starts counting a method's
/// calls (to compile it optimized) only once no new method has been compiled for 100 ms (TC_CallCountingDelayMs),
/// and a server that has just started keeps compiling new methods, so for its first tens of seconds most of its
/// code runs unoptimized: measured in the bench's (1), the master's and the workers' CPU per task fell by about a
/// third with the delay at 0 (and as much after 12,000 jobs of warm-up without it). A new worker (scaled up by
/// KEDA) or a restarted master is in that state exactly when it is busiest.
/// The delay is one of the runtime's settings that only the environment sets, so the process starts itself again
/// with it before doing anything else: the same pid, arguments, environment and descriptors, replaced by execve.
/// </summary>
public static partial class RuntimeTuning
{
    /// <summary>The variable; when it is set (any value), it is the operator's choice and nothing is changed.</summary>
    public const string CallCountingDelayVariable = "DOTNET_TC_CallCountingDelayMs";

    /// <summary>
    /// Returns at once when <see cref="CallCountingDelayVariable"/> is set; otherwise replaces this process with itself
    /// started with it at 0, and returns only if that could not be done (the process then runs as it is).
    /// </summary>
    public static void StartWithoutTieringDelay()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(CallCountingDelayVariable) is not null)
        {
            return;
        }

        List<byte[]> argv, environment;
        try
        {
            // The original bytes, not .NET's decoding of them: arguments and variables need not be UTF-8.
            argv = Split(File.ReadAllBytes("/proc/self/cmdline"));
            environment = Split(File.ReadAllBytes("/proc/self/environ"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return;
        }

        if (argv.Count == 0)
        {
            return;
        }

        environment.Add(System.Text.Encoding.ASCII.GetBytes($"{CallCountingDelayVariable}=0"));
        var allocated = new List<IntPtr>();
        try
        {
            Execve("/proc/self/exe", NullTerminated(argv, allocated), NullTerminated(environment, allocated));
        }
        finally
        {
            // Only reached when execve failed.
            allocated.ForEach(Marshal.FreeHGlobal);
        }
    }

    private static List<byte[]> Split(byte[] block)
    {
        var parts = new List<byte[]>();
        var start = 0;
        for (var i = 0; i < block.Length; i++)
        {
            if (block[i] == 0)
            {
                parts.Add(block[start..i]);
                start = i + 1;
            }
        }

        if (start < block.Length)
        {
            parts.Add(block[start..]);
        }

        return parts;
    }

    private static IntPtr NullTerminated(List<byte[]> values, List<IntPtr> allocated)
    {
        var array = Marshal.AllocHGlobal(IntPtr.Size * (values.Count + 1));
        allocated.Add(array);
        for (var i = 0; i < values.Count; i++)
        {
            var text = Marshal.AllocHGlobal(values[i].Length + 1);
            allocated.Add(text);
            Marshal.Copy(values[i], 0, text, values[i].Length);
            Marshal.WriteByte(text, values[i].Length, 0);
            Marshal.WriteIntPtr(array, i * IntPtr.Size, text);
        }

        Marshal.WriteIntPtr(array, values.Count * IntPtr.Size, IntPtr.Zero);
        return array;
    }

    [LibraryImport("libc", EntryPoint = "execve", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Execve(string path, IntPtr argv, IntPtr envp);
}
