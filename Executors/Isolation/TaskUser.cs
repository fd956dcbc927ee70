using System.Globalization;

namespace DistributedExecutor.Executors.Isolation;

/// <summary>
/// The identity tasks run under (TASK_USER): a name from /etc/passwd, or <c>uid[:gid]</c>. <see cref="Inherit"/> runs
/// tasks as the worker's own user.
/// </summary>
internal sealed record TaskUser(int Uid, int Gid, string Name, string Home)
{
    /// <summary>The TASK_USER value that keeps tasks under the worker's own uid (where it cannot or should not switch).</summary>
    public const string Inherit = "inherit";

    /// <summary>The default for a worker running as root: the system's unprivileged "nobody" (65534 where it has no entry).</summary>
    public const string DefaultName = "nobody";

    /// <summary>Resolves <paramref name="value"/>; null with <paramref name="error"/> when it names no usable identity.</summary>
    public static TaskUser? Resolve(string value, string passwdPath, out string? error)
    {
        error = null;
        var entries = ReadPasswd(passwdPath);
        var parts = value.Split(':');
        if (parts.Length <= 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
        {
            var known = entries.FirstOrDefault(e => e.Uid == uid);
            var gid = known?.Gid ?? uid;
            if (parts.Length == 2 && !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out gid))
            {
                error = $"TASK_USER={value}: the group must be a number (uid:gid)";
                return null;
            }

            return Check(new TaskUser(uid, gid, known?.Name ?? uid.ToString(CultureInfo.InvariantCulture), known?.Home ?? "/"), value, out error);
        }

        if (parts.Length == 1 && entries.FirstOrDefault(e => e.Name == value) is { } entry)
        {
            return Check(entry, value, out error);
        }

        if (value == DefaultName)
        {
            return new TaskUser(65534, 65534, DefaultName, "/");
        }

        error = $"TASK_USER={value}: no such user in {passwdPath}; give a name, a uid or uid:gid";
        return null;
    }

    private static TaskUser? Check(TaskUser user, string value, out string? error)
    {
        if (user.Uid == 0 || user.Gid == 0)
        {
            error = $"TASK_USER={value} is root; tasks must run unprivileged (use {DefaultName}, or {Inherit} to keep the worker's user)";
            return null;
        }

        error = null;
        return user;
    }

    private static List<TaskUser> ReadPasswd(string path)
    {
        var users = new List<TaskUser>();
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                var fields = line.Split(':');
                if (fields.Length >= 6
                    && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
                    && int.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
                {
                    users.Add(new TaskUser(uid, gid, fields[0], fields[5].Length == 0 || !Directory.Exists(fields[5]) ? "/" : fields[5]));
                }
            }
        }
        catch (IOException)
        {
            // No passwd (a scratch image): numeric ids still work.
        }

        return users;
    }
}
