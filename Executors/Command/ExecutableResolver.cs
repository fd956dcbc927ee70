namespace DistributedExecutor.Executors.Command;

/// <summary>
/// Finds the real file a program name stands for: PATH lookup, then every symlink and ".." resolved, so that
/// policy is checked against what would actually run.
/// </summary>
internal static class ExecutableResolver
{
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static bool TryResolve(string program, string? pathVariable, string? workingDir, out string realPath, out string error)
    {
        realPath = "";
        if (string.IsNullOrWhiteSpace(program))
        {
            error = "the program is empty";
            return false;
        }

        if (program.Contains('\0'))
        {
            error = "the program name contains a NUL character";
            return false;
        }

        string? candidate = null;
        if (program.Contains('/'))
        {
            var baseDir = string.IsNullOrEmpty(workingDir) ? Directory.GetCurrentDirectory() : workingDir;
            candidate = Path.GetFullPath(program, baseDir);
            if (!IsExecutableFile(candidate))
            {
                error = File.Exists(candidate) || Directory.Exists(candidate)
                    ? $"{program} is not an executable file"
                    : $"{program} does not exist";
                return false;
            }
        }
        else
        {
            foreach (var dir in (pathVariable ?? DefaultPath).Split(':', StringSplitOptions.RemoveEmptyEntries))
            {
                if (!Path.IsPathRooted(dir))
                {
                    // A relative PATH entry would make the result depend on the working directory: skip it.
                    continue;
                }

                var path = Path.Combine(dir, program);
                if (IsExecutableFile(path))
                {
                    candidate = path;
                    break;
                }
            }

            if (candidate is null)
            {
                error = $"{program} was not found on PATH";
                return false;
            }
        }

        realPath = RealPath(candidate);
        error = "";
        return true;
    }

    /// <summary>The path with every directory and file symlink followed.</summary>
    public static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? "/";
        var current = root;
        foreach (var part in full[root.Length..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            for (var hops = 0; hops < 40; hops++)
            {
                FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
                if (info.LinkTarget is null)
                {
                    break;
                }

                current = Path.GetFullPath(info.LinkTarget, Path.GetDirectoryName(current) ?? root);
            }
        }

        return current;
    }

    private static bool IsExecutableFile(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        var mode = File.GetUnixFileMode(path);
        return (mode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
    }
}
