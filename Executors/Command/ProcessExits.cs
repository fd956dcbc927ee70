using System.Runtime.InteropServices;

namespace DistributedExecutor.Executors.Command;

/// <summary>
/// Learns when task processes end, for all of them on one thread: each process's pidfd (pidfd_open(2), Linux 5.3+)
/// becomes readable when it exits, and one thread polls them all. Before this, every task started a thread of its
/// own to block in waitid(2) — creating it was about a tenth of the worker's CPU per short task. Where pidfds are
/// refused (an old kernel, a seccomp profile without pidfd_open), each process gets that blocking thread as before.
/// The process is never reaped here: it stays a zombie, holding its pid and group id, until its owner reaps it.
/// </summary>
internal static partial class ProcessExits
{
    private const int PollIn = 0x1;
    private const int EfdCloexec = 0x80000;
    private const int EfdNonblock = 0x800;
    private const int PPid = 1;
    private const int WExited = 4;
    private const int WNoHang = 1;
    private const int WNoWait = 0x01000000;
    private const int ClaExited = 1;
    private const int EIntr = 4;
    private const long SysPidfdOpen = 434; // the same number on every architecture (the unified syscall table)

    private static readonly Lock Gate = new();
    private static readonly List<Watched> Added = [];
    private static int _wake = -1;
    private static bool _pidfdsRefused;

    /// <summary>Whether processes are watched by the shared thread (false once pidfds were refused).</summary>
    public static bool Shared => !Volatile.Read(ref _pidfdsRefused);

    /// <summary>
    /// Completes with the exit code of <paramref name="pid"/> (a child of this process), or 128+N when signal N killed
    /// it. <paramref name="shared"/> false: on a thread of its own, as where pidfds are refused (for tests).
    /// </summary>
    public static Task<int> WatchAsync(int pid, bool shared = true)
    {
        if (shared && !Volatile.Read(ref _pidfdsRefused))
        {
            var pidfd = (int)Syscall(SysPidfdOpen, pid, 0);
            if (pidfd >= 0)
            {
                var watched = new Watched(pid, pidfd);
                lock (Gate)
                {
                    EnsureThread();
                    Added.Add(watched);
                }

                Wake();
                return watched.Exited.Task;
            }

            // ENOSYS or EPERM will not change for this process: stop asking.
            Volatile.Write(ref _pidfdsRefused, true);
        }

        return Task.Factory.StartNew(() => WaitBlocking(pid), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private static void EnsureThread()
    {
        if (_wake >= 0)
        {
            return;
        }

        _wake = EventFd(0, EfdCloexec | EfdNonblock);
        if (_wake < 0)
        {
            throw new InvalidOperationException($"eventfd: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        new Thread(Loop) { IsBackground = true, Name = "distexec process exits" }.Start();
    }

    private static void Wake()
    {
        long one = 1;
        _ = Write(_wake, ref one, sizeof(long));
    }

    private static void Loop()
    {
        var watching = new List<Watched>();
        var fds = new PollFd[16];
        while (true)
        {
            lock (Gate)
            {
                watching.AddRange(Added);
                Added.Clear();
            }

            if (fds.Length < watching.Count + 1)
            {
                fds = new PollFd[Math.Max(fds.Length * 2, watching.Count + 1)];
            }

            fds[0] = new PollFd { Fd = _wake, Events = PollIn };
            for (var i = 0; i < watching.Count; i++)
            {
                fds[i + 1] = new PollFd { Fd = watching[i].Pidfd, Events = PollIn };
            }

            if (Poll(fds, (ulong)(watching.Count + 1), -1) < 0)
            {
                // EINTR; nothing else can fail for these descriptors.
                continue;
            }

            if ((fds[0].Revents & PollIn) != 0)
            {
                long drained = 0;
                _ = Read(_wake, ref drained, sizeof(long));
            }

            // Backwards, so removing one leaves the indexes still to visit as they were.
            for (var i = watching.Count - 1; i >= 0; i--)
            {
                if (fds[i + 1].Revents == 0)
                {
                    continue;
                }

                var ended = watching[i];
                watching.RemoveAt(i);
                Close(ended.Pidfd);
                ended.Exited.TrySetResult(Status(ended.Pid, WExited | WNoWait | WNoHang) ?? WaitBlocking(ended.Pid));
            }
        }
    }

    /// <summary>Blocks until <paramref name="pid"/> has ended (without reaping it).</summary>
    private static int WaitBlocking(int pid) => Status(pid, WExited | WNoWait) ?? 255;

    /// <summary>How <paramref name="pid"/> ended, or null when it has not (WNOHANG) or its status is gone.</summary>
    private static int? Status(int pid, int options)
    {
        var info = new byte[128];
        while (true)
        {
            if (WaitId(PPid, pid, info, options) == 0)
            {
                // With WNOHANG and nothing to report, waitid returns 0 and leaves si_pid zero.
                if (BitConverter.ToInt32(info, 16) == 0)
                {
                    return null;
                }

                var code = BitConverter.ToInt32(info, 8);
                var status = BitConverter.ToInt32(info, 24);
                return code == ClaExited ? status & 0xff : 128 + status;
            }

            if (Marshal.GetLastPInvokeError() != EIntr)
            {
                // Someone else reaped it (a SIGCHLD-ignoring parent): its status is gone; report an unknown end.
                return 255;
            }
        }
    }

    private sealed class Watched(int pid, int pidfd)
    {
        public int Pid { get; } = pid;

        public int Pidfd { get; } = pidfd;

        public TaskCompletionSource<int> Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, int pid, uint flags);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll([In, Out] PollFd[] fds, ulong count, int timeout);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, ref long value, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, ref long value, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "waitid", SetLastError = true)]
    private static partial int WaitId(int idType, int id, [Out] byte[] info, int options);
}
