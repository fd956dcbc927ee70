using System.Globalization;
using DistributedExecutor.Executors.Command;

namespace DistributedExecutor.Executors.Isolation;

/// <summary>
/// Every process of one task run, whatever it does to its session or group: in cgroup mode the task's cgroup
/// (signalled through cgroup.procs, killed through cgroup.kill); in reaper mode the launcher, which stays the
/// parent of every orphan the task leaves, forwards TERM to the whole tree and kills it on SIGUSR1.
/// </summary>
internal sealed class TaskContainment : IDisposable
{
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private const int SigUsr1 = 10;

    private readonly TaskIsolation _isolation;
    private readonly string? _cgroup;
    private readonly Lock _gate = new();
    private int _leader;
    private bool _empty;

    internal TaskContainment(TaskIsolation isolation, string? cgroup)
    {
        _isolation = isolation;
        _cgroup = cgroup;
    }

    /// <summary>
    /// Starts <paramref name="program"/> contained: in cgroup mode straight into the task's cgroup as the task user
    /// (one exec); in reaper mode through the launcher, which stays the parent of the task's tree.
    /// </summary>
    public SpawnedProcess Start(string program, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, string workingDirectory) =>
        _cgroup is null
            ? SpawnedProcess.Start(_isolation.LauncherPath, LauncherArguments(program, args), environment, workingDirectory, statusPipe: true)
            : SpawnedProcess.StartInCgroup(program, args, environment, workingDirectory, _cgroup, _isolation.User?.Uid ?? -1, _isolation.User?.Gid ?? -1);

    /// <summary>The launcher's argv after its own name in reaper mode: mode, no cgroup, uid, gid, the program and its argv.</summary>
    private IReadOnlyList<string> LauncherArguments(string program, IReadOnlyList<string> args) =>
    [
        "reaper", "-",
        TaskIsolation.Id(_isolation.User?.Uid), TaskIsolation.Id(_isolation.User?.Gid),
        program, program, .. args,
    ];

    /// <summary>The process the worker started (the task's program; in reaper mode the launcher).</summary>
    public void Attach(int pid)
    {
        lock (_gate)
        {
            _leader = pid;
        }
    }

    /// <summary>Forgets the leader before it is reaped: its pid may then belong to an unrelated process.</summary>
    public void Detach()
    {
        lock (_gate)
        {
            _leader = 0;
        }
    }

    /// <summary>TERM to every process of the task (its chance to clean up).</summary>
    public void Terminate()
    {
        lock (_gate)
        {
            if (_cgroup is not null)
            {
                SignalCgroup(_cgroup, SigTerm);
            }

            if (_leader > 1)
            {
                // Reaper mode: the launcher forwards it to the whole tree; cgroup mode: the group, as before.
                ProcessGroup.Signal(_leader, SigTerm);
            }
        }
    }

    /// <summary>KILL to every process of the task, now.</summary>
    public void KillAll()
    {
        lock (_gate)
        {
            if (_cgroup is not null)
            {
                // Most tasks leave nothing behind: one read of cgroup.events spares the kill.
                if (IsPopulated(_cgroup))
                {
                    KillCgroup(_cgroup);
                }

                if (_leader > 1)
                {
                    ProcessGroup.Signal(_leader, SigKill);
                }
            }
            else if (_leader > 1)
            {
                // Never KILL the launcher itself: it must outlive the tree to kill what re-parented to it.
                ProcessGroup.SignalProcess(_leader, SigUsr1);
            }
        }
    }

    /// <summary>Waits (bounded) until no process of the task is left; true when none is.</summary>
    public async Task<bool> WaitEmptyAsync(TimeSpan timeout)
    {
        // Once empty after the task ended it stays empty (nothing joins but a task start): Dispose trusts it.
        _empty = _cgroup is null || !IsPopulated(_cgroup) || await Task.Run(() => WaitCgroupEmpty(_cgroup, timeout)).ConfigureAwait(false);
        return _empty;
    }

    public void Dispose()
    {
        if (_cgroup is null)
        {
            return;
        }

        if (!_empty && IsPopulated(_cgroup))
        {
            KillCgroup(_cgroup);
            if (!WaitCgroupEmpty(_cgroup, TimeSpan.FromSeconds(1)))
            {
                // Something would not die in time: this cgroup is not reused; the worker sweeps it at exit.
                return;
            }
        }

        // Empty: the next task may use it (a mkdir and rmdir per task cost the worker more than the task).
        _isolation.Release(_cgroup);
    }

    /// <summary>Whether any process is in the cgroup (its cgroup.events "populated" line), read without allocating.</summary>
    internal static bool IsPopulated(string dir)
    {
        try
        {
            using var handle = File.OpenHandle(Path.Join(dir, "cgroup.events"));
            Span<byte> buffer = stackalloc byte[128];
            var read = RandomAccess.Read(handle, buffer, 0);
            var text = buffer[..read];
            var at = text.IndexOf("populated "u8);
            return at < 0 || (at + 10 < read && text[at + 10] != (byte)'0');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    internal static void KillCgroup(string dir)
    {
        try
        {
            File.WriteAllText(Path.Join(dir, "cgroup.kill"), "1");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Kernels before 5.14 have no cgroup.kill: KILL each member until none is left.
            for (var round = 0; round < 100 && SignalCgroup(dir, SigKill) > 0; round++)
            {
            }
        }
    }

    internal static bool WaitCgroupEmpty(string dir, TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            if (!IsPopulated(dir))
            {
                return true;
            }

            if (Environment.TickCount64 >= deadline)
            {
                return false;
            }

            Thread.Sleep(5);
        }
    }

    private static int SignalCgroup(string dir, int signal)
    {
        var count = 0;
        try
        {
            foreach (var line in File.ReadLines(Path.Join(dir, "cgroup.procs")))
            {
                if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && ProcessGroup.SignalProcess(pid, signal))
                {
                    count++;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return count;
    }
}
