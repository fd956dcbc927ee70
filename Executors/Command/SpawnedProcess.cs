using System.IO.Pipes;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DistributedExecutor.Executors.Command;

/// <summary>
/// A task process started with posix_spawn(3) in a session of its own (POSIX_SPAWN_SETSID): its pid is its
/// process group id, so <see cref="ProcessGroup"/> reaches everything it starts. One exec per task (no
/// setsid helper in between), stdin from /dev/null, stdout and stderr on pipes read asynchronously, default
/// signal dispositions and an empty signal mask (the runtime ignores SIGPIPE; tasks must not inherit that).
/// </summary>
internal sealed partial class SpawnedProcess : IDisposable
{
    private const int PosixSpawnSetSigDef = 0x04;
    private const int PosixSpawnSetSigMask = 0x08;
    private const int PosixSpawnSetSid = 0x80;
    private const int OCloExec = 0x80000;
    private const int ORdOnly = 0;
    private const int EIntr = 4;
    private const int StatusFd = 3;

    // glibc x86-64/arm64: posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336; room to spare.
    private const int FileActionsSize = 256;
    private const int AttributesSize = 1024;
    private const int SigSetSize = 256;

    private readonly Task<int> _exited;
    private int _reaped;

    private SpawnedProcess(int pid, Stream stdout, Stream stderr)
    {
        Pid = pid;
        Stdout = stdout;
        Stderr = stderr;
        _exited = ProcessExits.WatchAsync(pid);
    }

    public int Pid { get; }

    public Stream Stdout { get; }

    public Stream Stderr { get; }

    /// <summary>
    /// Completes when the process has ended, with its exit code, or 128+N when signal N killed it. The process
    /// stays a zombie (holding its pid and group id) until <see cref="Reap"/>, so signals to its group can never
    /// reach an unrelated process that reused the pid.
    /// </summary>
    public Task<int> Exited => _exited;

    public bool HasExited => _exited.IsCompleted;

    /// <summary>
    /// Starts <paramref name="path"/> (argv[0]) with <paramref name="args"/>; throws <see cref="SpawnException"/> when it
    /// cannot. With <paramref name="statusPipe"/> the program gets a pipe on fd 3 (the task launcher's protocol): it
    /// reports a failure before the task's own exec there as two ints (stage, errno), and a successful exec closes it.
    /// </summary>
    public static SpawnedProcess Start(string path, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, string workingDirectory, bool statusPipe = false)
    {
        var strings = new List<IntPtr>();
        var fileActions = Marshal.AllocHGlobal(FileActionsSize);
        var attributes = Marshal.AllocHGlobal(AttributesSize);
        var signals = Marshal.AllocHGlobal(SigSetSize);
        Span<int> stdoutPipe = stackalloc int[2];
        Span<int> stderrPipe = stackalloc int[2];
        Span<int> status = stackalloc int[2];
        stdoutPipe[0] = stdoutPipe[1] = stderrPipe[0] = stderrPipe[1] = status[0] = status[1] = -1;
        var argv = IntPtr.Zero;
        var envp = IntPtr.Zero;
        var actionsReady = false;
        var attributesReady = false;
        try
        {
            Check(Pipe2(stdoutPipe, OCloExec) == 0 ? 0 : Marshal.GetLastPInvokeError(), "pipe2");
            Check(Pipe2(stderrPipe, OCloExec) == 0 ? 0 : Marshal.GetLastPInvokeError(), "pipe2");
            if (statusPipe)
            {
                Check(Pipe2(status, OCloExec) == 0 ? 0 : Marshal.GetLastPInvokeError(), "pipe2");
            }

            Check(FileActionsInit(fileActions), "posix_spawn_file_actions_init");
            actionsReady = true;
            Check(FileActionsAddOpen(fileActions, 0, "/dev/null", ORdOnly, 0), "posix_spawn_file_actions_addopen");
            Check(FileActionsAddDup2(fileActions, stdoutPipe[1], 1), "posix_spawn_file_actions_adddup2");
            Check(FileActionsAddDup2(fileActions, stderrPipe[1], 2), "posix_spawn_file_actions_adddup2");
            if (statusPipe)
            {
                Check(FileActionsAddDup2(fileActions, status[1], StatusFd), "posix_spawn_file_actions_adddup2");
            }
            Check(FileActionsAddChdir(fileActions, workingDirectory), "posix_spawn_file_actions_addchdir_np");

            Check(AttrInit(attributes), "posix_spawnattr_init");
            attributesReady = true;
            Check(AttrSetFlags(attributes, PosixSpawnSetSid | PosixSpawnSetSigDef | PosixSpawnSetSigMask), "posix_spawnattr_setflags");
            SigFillSet(signals);
            Check(AttrSetSigDefault(attributes, signals), "posix_spawnattr_setsigdefault");
            SigEmptySet(signals);
            Check(AttrSetSigMask(attributes, signals), "posix_spawnattr_setsigmask");

            argv = NullTerminated([path, .. args], strings);
            envp = NullTerminated(environment.Select(p => $"{p.Key}={p.Value}").ToList(), strings);
            var error = Spawn(out var pid, path, fileActions, attributes, argv, envp);
            if (error != 0)
            {
                throw new SpawnException($"{path}: {Marshal.GetPInvokeErrorMessage(error)}");
            }

            // The child holds the write ends now; closing ours lets the reads end when it (and its group) close theirs.
            Close(ref stdoutPipe[1]);
            Close(ref stderrPipe[1]);
            if (statusPipe)
            {
                Close(ref status[1]);
                if (ReadStatus(status[0]) is { } failure)
                {
                    // It exits at once after reporting; reap it here, nobody else will.
                    while (WaitPid(pid, out _, 0) == -1 && Marshal.GetLastPInvokeError() == EIntr)
                    {
                    }

                    throw new SpawnException(failure.Stage switch
                    {
                        LaunchStage.Cgroup => $"cannot put the task in its cgroup: {Marshal.GetPInvokeErrorMessage(failure.Error)}",
                        LaunchStage.Identity => $"cannot switch to the task user: {Marshal.GetPInvokeErrorMessage(failure.Error)}",
                        LaunchStage.Exec => $"{args.ElementAtOrDefault(4) ?? path}: {Marshal.GetPInvokeErrorMessage(failure.Error)}",
                        _ => $"the task launcher failed (stage {(int)failure.Stage}): {Marshal.GetPInvokeErrorMessage(failure.Error)}",
                    });
                }
            }

            var stdout = ReadEnd(ref stdoutPipe[0]);
            var stderr = ReadEnd(ref stderrPipe[0]);
            return new SpawnedProcess(pid, stdout, stderr);
        }
        finally
        {
            Close(ref stdoutPipe[0]);
            Close(ref stdoutPipe[1]);
            Close(ref stderrPipe[0]);
            Close(ref stderrPipe[1]);
            Close(ref status[0]);
            Close(ref status[1]);
            if (actionsReady)
            {
                FileActionsDestroy(fileActions);
            }

            if (attributesReady)
            {
                AttrDestroy(attributes);
            }

            Marshal.FreeHGlobal(fileActions);
            Marshal.FreeHGlobal(attributes);
            Marshal.FreeHGlobal(signals);
            strings.ForEach(Marshal.FreeCoTaskMem);
            Marshal.FreeHGlobal(argv);
            Marshal.FreeHGlobal(envp);
        }
    }

    /// <summary>Releases the ended process's pid; after this, never signal its group again.</summary>
    public void Reap()
    {
        if (_exited.IsCompleted && Interlocked.Exchange(ref _reaped, 1) == 0)
        {
            while (WaitPid(Pid, out _, 0) == -1 && Marshal.GetLastPInvokeError() == EIntr)
            {
            }
        }
    }

    public void Dispose()
    {
        Stdout.Dispose();
        Stderr.Dispose();

        // Reaping our own zombie is always safe; only signalling after it is not.
        _exited.ContinueWith(_ => Reap(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Blocks until the launcher has exec'd the task (EOF) or reported why it could not (stage, errno).</summary>
    private static (LaunchStage Stage, int Error)? ReadStatus(int fd)
    {
        Span<byte> buffer = stackalloc byte[8];
        var total = 0;
        while (total < buffer.Length)
        {
            var read = ReadFd(fd, ref buffer[total], buffer.Length - total);
            if (read == 0)
            {
                break;
            }

            if (read < 0)
            {
                if (Marshal.GetLastPInvokeError() == EIntr)
                {
                    continue;
                }

                break;
            }

            total += (int)read;
        }

        return total == buffer.Length
            ? ((LaunchStage)BitConverter.ToInt32(buffer[..4]), BitConverter.ToInt32(buffer[4..]))
            : null;
    }

    private static Stream ReadEnd(ref int fd)
    {
        // A pipe stream reads through the runtime's epoll loop instead of parking a thread per read.
        var stream = new AnonymousPipeClientStream(PipeDirection.In, new SafePipeHandle(fd, ownsHandle: true));
        fd = -1;
        return stream;
    }

    private static IntPtr NullTerminated(IReadOnlyList<string> values, List<IntPtr> strings)
    {
        var array = Marshal.AllocHGlobal(IntPtr.Size * (values.Count + 1));
        for (var i = 0; i < values.Count; i++)
        {
            var text = Marshal.StringToCoTaskMemUTF8(values[i]);
            strings.Add(text);
            Marshal.WriteIntPtr(array, i * IntPtr.Size, text);
        }

        Marshal.WriteIntPtr(array, values.Count * IntPtr.Size, IntPtr.Zero);
        return array;
    }

    private static void Check(int error, string call)
    {
        if (error != 0)
        {
            throw new SpawnException($"{call}: {Marshal.GetPInvokeErrorMessage(error)}");
        }
    }

    private static void Close(ref int fd)
    {
        if (fd >= 0)
        {
            CloseFd(fd);
            fd = -1;
        }
    }

    [LibraryImport("libc", EntryPoint = "posix_spawn", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Spawn(out int pid, string path, IntPtr fileActions, IntPtr attributes, IntPtr argv, IntPtr envp);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    private static partial int FileActionsInit(IntPtr actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    private static partial int FileActionsDestroy(IntPtr actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FileActionsAddOpen(IntPtr actions, int fd, string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    private static partial int FileActionsAddDup2(IntPtr actions, int fd, int newFd);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addchdir_np", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FileActionsAddChdir(IntPtr actions, string path);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_init")]
    private static partial int AttrInit(IntPtr attributes);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_destroy")]
    private static partial int AttrDestroy(IntPtr attributes);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setflags")]
    private static partial int AttrSetFlags(IntPtr attributes, short flags);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigdefault")]
    private static partial int AttrSetSigDefault(IntPtr attributes, IntPtr signals);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigmask")]
    private static partial int AttrSetSigMask(IntPtr attributes, IntPtr signals);

    [LibraryImport("libc", EntryPoint = "sigfillset")]
    private static partial int SigFillSet(IntPtr set);

    [LibraryImport("libc", EntryPoint = "sigemptyset")]
    private static partial int SigEmptySet(IntPtr set);

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static partial int Pipe2(Span<int> fds, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadFd(int fd, ref byte buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int CloseFd(int fd);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int WaitPid(int pid, out int status, int options);
}

/// <summary>Where the task launcher stopped (its status pipe protocol; see Isolation/Native).</summary>
internal enum LaunchStage
{
    Usage = 1,
    Cgroup = 2,
    Identity = 3,
    Exec = 4,
    Fork = 5,
}

/// <summary>The task's program could not be started (missing, not executable, a bad working directory …).</summary>
internal sealed class SpawnException(string message) : Exception(message);
