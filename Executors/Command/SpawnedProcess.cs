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
    private const string SpawnLibrary = "distexec-spawn";

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
    public static SpawnedProcess Start(string path, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, string workingDirectory, bool statusPipe = false) =>
        WithPipes(path, args, environment, (argv, envp, stdoutWrite, stderrWrite) =>
            PosixSpawn(path, argv, envp, workingDirectory, stdoutWrite, stderrWrite, statusPipe, args.ElementAtOrDefault(4) ?? path));

    /// <summary>
    /// Starts <paramref name="path"/> as the task launcher's cgroup mode would, without the launcher: the child joins
    /// <paramref name="cgroup"/>, drops to <paramref name="uid"/>/<paramref name="gid"/> (-1: keep the worker's) and sets
    /// no_new_privs between its clone and its exec (libdistexec-spawn.so, Isolation/Native). One exec per task.
    /// </summary>
    public static SpawnedProcess StartInCgroup(string path, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, string workingDirectory, string cgroup, int uid, int gid) =>
        WithPipes(path, args, environment, (argv, envp, stdoutWrite, stderrWrite) =>
        {
            if (SpawnInCgroup(path, argv, envp, workingDirectory, stdoutWrite, stderrWrite, Path.Join(cgroup, "cgroup.procs"), uid, gid, out var pid, out var stage, out var error) != 0)
            {
                throw Failure((LaunchStage)stage, error, path, workingDirectory);
            }

            return pid;
        });

    /// <summary>Whether libdistexec-spawn.so loads (it ships beside the executors' assembly); else why not.</summary>
    public static string? InCgroupUnavailable()
    {
        if (!NativeLibrary.TryLoad(SpawnLibrary, typeof(SpawnedProcess).Assembly, null, out var library))
        {
            return $"lib{SpawnLibrary}.so is missing or cannot be loaded beside {typeof(SpawnedProcess).Assembly.Location} (build with make build)";
        }

        return NativeLibrary.TryGetExport(library, "distexec_spawn", out _) ? null : $"lib{SpawnLibrary}.so has no distexec_spawn";
    }

    /// <summary>
    /// The task's stdout and stderr pipes and its argv/envp around <paramref name="spawn"/> (argv, envp, the write
    /// ends; returns the pid), which leaves the write ends to the child.
    /// </summary>
    private static SpawnedProcess WithPipes(string path, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, Func<IntPtr, IntPtr, int, int, int> spawn)
    {
        var strings = new List<IntPtr>();
        Span<int> stdoutPipe = stackalloc int[2];
        Span<int> stderrPipe = stackalloc int[2];
        stdoutPipe[0] = stdoutPipe[1] = stderrPipe[0] = stderrPipe[1] = -1;
        var argv = IntPtr.Zero;
        var envp = IntPtr.Zero;
        try
        {
            Check(Pipe2(stdoutPipe, OCloExec) == 0 ? 0 : Marshal.GetLastPInvokeError(), "pipe2");
            Check(Pipe2(stderrPipe, OCloExec) == 0 ? 0 : Marshal.GetLastPInvokeError(), "pipe2");
            argv = NullTerminated([path, .. args], strings);
            envp = NullTerminated(environment.Select(p => $"{p.Key}={p.Value}").ToList(), strings);
            var pid = spawn(argv, envp, stdoutPipe[1], stderrPipe[1]);

            // The child holds the write ends now; closing ours lets the reads end when it (and its group) close theirs.
            Close(ref stdoutPipe[1]);
            Close(ref stderrPipe[1]);
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
            strings.ForEach(Marshal.FreeCoTaskMem);
            Marshal.FreeHGlobal(argv);
            Marshal.FreeHGlobal(envp);
        }
    }

    private static int PosixSpawn(string path, IntPtr argv, IntPtr envp, string workingDirectory, int stdoutWrite, int stderrWrite, bool statusPipe, string program)
    {
        var fileActions = Marshal.AllocHGlobal(FileActionsSize);
        var attributes = Marshal.AllocHGlobal(AttributesSize);
        var signals = Marshal.AllocHGlobal(SigSetSize);
        Span<int> status = stackalloc int[2];
        status[0] = status[1] = -1;
        var actionsReady = false;
        var attributesReady = false;
        try
        {
            if (statusPipe)
            {
                Check(Pipe2(status, OCloExec) == 0 ? 0 : Marshal.GetLastPInvokeError(), "pipe2");
            }

            Check(FileActionsInit(fileActions), "posix_spawn_file_actions_init");
            actionsReady = true;
            Check(FileActionsAddOpen(fileActions, 0, "/dev/null", ORdOnly, 0), "posix_spawn_file_actions_addopen");
            Check(FileActionsAddDup2(fileActions, stdoutWrite, 1), "posix_spawn_file_actions_adddup2");
            Check(FileActionsAddDup2(fileActions, stderrWrite, 2), "posix_spawn_file_actions_adddup2");
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

            var error = Spawn(out var pid, path, fileActions, attributes, argv, envp);
            if (error != 0)
            {
                throw new SpawnException($"{path}: {Marshal.GetPInvokeErrorMessage(error)}");
            }

            if (statusPipe)
            {
                Close(ref status[1]);
                if (ReadStatus(status[0]) is { } failure)
                {
                    // It exits at once after reporting; reap it here, nobody else will.
                    while (WaitPid(pid, out _, 0) == -1 && Marshal.GetLastPInvokeError() == EIntr)
                    {
                    }

                    throw Failure(failure.Stage, failure.Error, program, workingDirectory);
                }
            }

            return pid;
        }
        finally
        {
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
        }
    }

    private static SpawnException Failure(LaunchStage stage, int error, string program, string workingDirectory) => new(stage switch
    {
        LaunchStage.Cgroup => $"cannot put the task in its cgroup: {Marshal.GetPInvokeErrorMessage(error)}",
        LaunchStage.Identity => $"cannot switch to the task user: {Marshal.GetPInvokeErrorMessage(error)}",
        LaunchStage.Exec => $"{program}: {Marshal.GetPInvokeErrorMessage(error)}",
        LaunchStage.Setup => $"cannot set up the task's session, standard streams or working directory {workingDirectory}: {Marshal.GetPInvokeErrorMessage(error)}",
        _ => $"the task launcher failed (stage {(int)stage}): {Marshal.GetPInvokeErrorMessage(error)}",
    });

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

    [LibraryImport(SpawnLibrary, EntryPoint = "distexec_spawn", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SpawnInCgroup(string path, IntPtr argv, IntPtr envp, string workingDirectory, int stdoutFd, int stderrFd, string cgroupProcs, int uid, int gid, out int pid, out int stage, out int error);

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

/// <summary>Where a task start stopped before the task's exec (the launcher's status pipe protocol, libdistexec-spawn's result; see Isolation/Native).</summary>
internal enum LaunchStage
{
    Usage = 1,
    Cgroup = 2,
    Identity = 3,
    Exec = 4,
    Fork = 5,
    Setup = 6,
}

/// <summary>The task's program could not be started (missing, not executable, a bad working directory …).</summary>
internal sealed class SpawnException(string message) : Exception(message);
