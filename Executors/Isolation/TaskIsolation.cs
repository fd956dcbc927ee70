using DistributedExecutor.Executors.Command;
using System.Globalization;

namespace DistributedExecutor.Executors.Isolation;

/// <summary>How tasks are contained: a cgroup v2 per task where this worker may create one, else a subreaper.</summary>
internal enum ContainmentKind
{
    Cgroup,
    Reaper,
}

/// <summary>
/// How this worker keeps tasks away from itself and inside their limits, decided once at start-up: which user
/// tasks run as (TASK_USER), and how every process a task starts is tracked (a cgroup v2 per task, or the
/// launcher as a child subreaper). Every task starts through the static launcher (Isolation/Native), which
/// joins the cgroup and drops to the task user before the task's program runs.
/// </summary>
internal sealed class TaskIsolation : IDisposable
{
    public const string LauncherName = "distexec-launch";

    private readonly System.Collections.Concurrent.ConcurrentBag<string> _idle = [];
    private int _next;

    private TaskIsolation(string launcherPath, ContainmentKind kind, string? cgroupParent, TaskUser? user, string whyNoCgroup)
    {
        LauncherPath = launcherPath;
        Kind = kind;
        CgroupParent = cgroupParent;
        User = user;
        var who = user is null
            ? $"tasks share the worker's uid {ProcessPrivileges.EffectiveUid} (they can read what the worker's user can)"
            : $"tasks run as {user.Name} ({user.Uid}:{user.Gid})";
        var how = kind == ContainmentKind.Cgroup
            ? $"each in a cgroup v2 of its own under {cgroupParent}"
            : $"each under a child subreaper ({whyNoCgroup})";
        Description = $"{who}, {how}";
    }

    public string LauncherPath { get; }

    public ContainmentKind Kind { get; }

    /// <summary>The cgroup this worker made for its tasks' cgroups (null in reaper mode).</summary>
    public string? CgroupParent { get; }

    /// <summary>The user tasks run as; null when they share the worker's uid.</summary>
    public TaskUser? User { get; }

    public bool SharesWorkerUid => User is null;

    /// <summary>One line for the start-up log, /readyz and the worker registry.</summary>
    public string Description { get; }

    /// <summary>
    /// Decides the isolation for <paramref name="taskUserSetting"/> (TASK_USER; null: "nobody" when root, else
    /// the worker's own uid), adding to <paramref name="problems"/> what makes it impossible.
    /// </summary>
    /// A secret file (<paramref name="secretFiles"/>: tokens, broker password, TLS key) that the task user can
    /// open is a problem too: a task must not read any credential the worker holds.
    public static TaskIsolation? Create(string? taskUserSetting, IReadOnlyList<(string Setting, string Path)> secretFiles, ICollection<string> problems, string containment = "auto")
    {
        var launcher = Path.Combine(AppContext.BaseDirectory, LauncherName);
        if (!File.Exists(launcher))
        {
            problems.Add($"{launcher} is missing: the worker starts every task through it (build with make build)");
            return null;
        }

        var uid = ProcessPrivileges.EffectiveUid;
        var canSwitch = ProcessPrivileges.HasCapability(ProcessPrivileges.CapSetUid) && ProcessPrivileges.HasCapability(ProcessPrivileges.CapSetGid);
        TaskUser? user = null;
        if (taskUserSetting == TaskUser.Inherit)
        {
            user = null;
        }
        else if (taskUserSetting is null && uid != 0)
        {
            user = null;
        }
        else
        {
            user = TaskUser.Resolve(taskUserSetting ?? TaskUser.DefaultName, "/etc/passwd", out var error);
            if (user is null)
            {
                problems.Add(error!);
                return null;
            }

            if (user.Uid == uid)
            {
                user = null;
            }
            else if (!canSwitch)
            {
                problems.Add(taskUserSetting is null
                    ? "the worker runs as root without CAP_SETUID and CAP_SETGID, so tasks would run as root: grant those capabilities (and CAP_KILL), or set TASK_USER=inherit to accept that tasks share the worker's uid"
                    : $"TASK_USER={taskUserSetting}: the worker (uid {uid}) cannot switch users; run it as root or with CAP_SETUID, CAP_SETGID and CAP_KILL, or set TASK_USER=inherit");
                return null;
            }
            else if (!ProcessPrivileges.HasCapability(ProcessPrivileges.CapKill))
            {
                problems.Add($"tasks run as {user.Name} ({user.Uid}) but the worker lacks CAP_KILL to stop them: grant it, or set TASK_USER=inherit");
                return null;
            }
        }

        var (parent, whyNot) = containment == "reaper" ? (null, "TASK_CONTAINMENT=reaper") : MakeCgroupParent();
        if (parent is not null && SpawnedProcess.InCgroupUnavailable() is { } noLibrary)
        {
            // Cgroup mode starts tasks through it; without it, the launcher's reaper mode still contains them.
            TryRemove(parent);
            (parent, whyNot) = (null, noLibrary);
        }

        var probe = Probe(launcher, parent, user, secretFiles.Select(f => f.Path).ToList());
        if (parent is not null && probe.Problem is not null)
        {
            TryRemove(parent);
            (parent, whyNot) = (null, probe.Problem);
            probe = Probe(launcher, null, user, secretFiles.Select(f => f.Path).ToList());
        }

        if (probe.Problem is not null)
        {
            problems.Add($"tasks cannot be started: {probe.Problem}");
            return null;
        }

        if (parent is null && containment == "cgroup")
        {
            problems.Add($"TASK_CONTAINMENT=cgroup, but {whyNot}");
            return null;
        }

        var readable = secretFiles.Where(f => user is not null && probe.Readable.Contains(f.Path)).ToList();
        foreach (var (setting, path) in readable)
        {
            problems.Add($"{setting}={path} is readable by the task user {user!.Name}; make it readable by the worker's user only (chmod 600; in Kubernetes a secret volume's defaultMode 0400)");
        }

        if (readable.Count > 0)
        {
            if (parent is not null)
            {
                TryRemove(parent);
            }

            return null;
        }

        return new TaskIsolation(launcher, parent is null ? ContainmentKind.Reaper : ContainmentKind.Cgroup, parent, user, whyNot ?? "");
    }

    /// <summary>For a process that validates tasks but never runs one (a master without embedded workers).</summary>
    public static TaskIsolation ValidationOnly { get; } = new("", ContainmentKind.Reaper, null, null, "runs no tasks") { _runsTasks = false };

    private bool _runsTasks = true;

    /// <summary>A container for one task run: a fresh cgroup, or the subreaper's bookkeeping.</summary>
    public TaskContainment Contain()
    {
        if (!_runsTasks)
        {
            throw new InvalidOperationException("this process runs no tasks");
        }

        if (Kind == ContainmentKind.Reaper)
        {
            return new TaskContainment(this, null);
        }

        if (!_idle.TryTake(out var dir))
        {
            dir = Path.Combine(CgroupParent!, $"task-{Interlocked.Increment(ref _next)}");
            Directory.CreateDirectory(dir);
        }

        return new TaskContainment(this, dir);
    }

    /// <summary>An empty task cgroup, ready for the next task.</summary>
    internal void Release(string cgroup) => _idle.Add(cgroup);

    public void Dispose()
    {
        if (CgroupParent is not null)
        {
            Sweep(CgroupParent);
        }
    }

    /// <summary>
    /// Our own cgroup v2 (found from /proc/self/mounts and /proc/self/cgroup, never assumed) gets a child
    /// distexec-&lt;pid&gt; for this worker's tasks. Children left by workers that died are swept first.
    /// </summary>
    private static (string? Parent, string? WhyNot) MakeCgroupParent()
    {
        string? mount = null;
        try
        {
            mount = File.ReadLines("/proc/self/mounts").Select(l => l.Split(' ')).FirstOrDefault(f => f.Length > 2 && f[2] == "cgroup2")?[1].Replace("\\040", " ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
        }

        if (mount is null)
        {
            return (null, "no cgroup v2 mounted");
        }

        var own = File.ReadLines("/proc/self/cgroup").FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal))?[3..];
        if (own is null)
        {
            return (null, "this process has no cgroup v2");
        }

        var ownDir = Path.Join(mount, own);
        SweepDeadWorkers(ownDir);
        var parent = Path.Join(ownDir, $"distexec-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(parent);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (null, $"cannot create a cgroup in {ownDir}: {ex.Message}");
        }

        if (!File.Exists(Path.Join(parent, "cgroup.procs")))
        {
            TryRemove(parent);
            return (null, $"{ownDir} is not a cgroup v2 directory");
        }

        return (parent, null);
    }

    /// <summary>Runs the launcher's probe: join a cgroup, drop to the task user, try to open each file.</summary>
    private static (string? Problem, HashSet<string> Readable) Probe(string launcher, string? cgroupParent, TaskUser? user, IReadOnlyList<string> files)
    {
        string? probeDir = null;
        try
        {
            if (cgroupParent is not null)
            {
                probeDir = Path.Join(cgroupParent, "probe");
                Directory.CreateDirectory(probeDir);
            }

            // Started as tasks are (SpawnedProcess), with no environment, never with System.Diagnostics.Process:
            // once that has started a child, the runtime answers every SIGCHLD (one per task here) by scanning for
            // exited children under a lock, work that tasks reaped by ProcessExits never needed.
            using var process = SpawnedProcess.Start(launcher, ["probe", probeDir ?? "-", Id(user?.Uid), Id(user?.Gid), .. files],
                new Dictionary<string, string>(), "/");
            var errorRead = new StreamReader(process.Stderr).ReadToEndAsync();
            var readable = new StreamReader(process.Stdout).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(l => l.StartsWith("readable:", StringComparison.Ordinal)).Select(l => l["readable:".Length..]).ToHashSet(StringComparer.Ordinal);
            var error = errorRead.GetAwaiter().GetResult();
            var exitCode = process.Exited.GetAwaiter().GetResult();
            process.Reap();
            return (exitCode == 0 ? null : error.Trim(), readable);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SpawnException)
        {
            return (ex.Message, []);
        }
        finally
        {
            if (probeDir is not null)
            {
                TryRemove(probeDir);
            }
        }
    }

    internal static string Id(int? id) => id?.ToString(CultureInfo.InvariantCulture) ?? "-";

    private static void SweepDeadWorkers(string ownDir)
    {
        try
        {
            foreach (var dir in Directory.EnumerateDirectories(ownDir, "distexec-*"))
            {
                if (int.TryParse(Path.GetFileName(dir)["distexec-".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                    && !Directory.Exists($"/proc/{pid}"))
                {
                    Sweep(dir);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Kills whatever is left in a worker's task cgroups and removes them.</summary>
    private static void Sweep(string parent)
    {
        try
        {
            foreach (var dir in Directory.EnumerateDirectories(parent))
            {
                TaskContainment.KillCgroup(dir);
                TaskContainment.WaitCgroupEmpty(dir, TimeSpan.FromSeconds(2));
                TryRemove(dir);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        TryRemove(parent);
    }

    internal static void TryRemove(string dir)
    {
        try
        {
            Directory.Delete(dir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
