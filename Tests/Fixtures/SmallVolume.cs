namespace DistributedExecutor.Tests.Fixtures;

/// <summary>
/// A small filesystem of its own (a tmpfs of a given size, mounted by root) that a test can fill to the last byte
/// and free again, to see what the programs do when their disk is full. Unmounted and removed when disposed.
/// </summary>
public sealed class SmallVolume : IAsyncDisposable
{
    private readonly string _filler;

    private SmallVolume(string path)
    {
        Path = path;
        _filler = System.IO.Path.Combine(path, "filler");
    }

    public string Path { get; }

    public long FreeBytes => new DriveInfo(Path).AvailableFreeSpace;

    /// <summary>Mounts a tmpfs of <paramref name="megabytes"/> MiB; fails with the reason when this is not root.</summary>
    public static async Task<SmallVolume> MountAsync(int megabytes)
    {
        var path = Directory.CreateTempSubdirectory("distexec-volume-").FullName;
        var mount = await ProcessRunner.RunAsync("mount", ["-t", "tmpfs", "-o", $"size={megabytes}m,mode=0700", "tmpfs", path], timeout: TimeSpan.FromSeconds(30));
        if (mount.ExitCode != 0)
        {
            Directory.Delete(path);
            throw new InvalidOperationException($"a full-disk test mounts a small tmpfs and needs root (make test runs as root in CI): {mount}");
        }

        return new SmallVolume(path);
    }

    /// <summary>Writes a file until the filesystem has no byte left.</summary>
    public void Fill()
    {
        using var file = new FileStream(_filler, FileMode.Append, FileAccess.Write, FileShare.None, 1, FileOptions.None);
        foreach (var size in new[] { 1 << 20, 1 << 12, 1 })
        {
            var block = new byte[size];
            try
            {
                while (true)
                {
                    file.Write(block);
                }
            }
            catch (IOException)
            {
                // This block size no longer fits: go on with a smaller one.
            }
        }
    }

    /// <summary>Removes what <see cref="Fill"/> wrote.</summary>
    public void Free() => File.Delete(_filler);

    public async ValueTask DisposeAsync()
    {
        await ProcessRunner.RunAsync("umount", ["-l", Path], timeout: TimeSpan.FromSeconds(30));
        Directory.Delete(Path, recursive: true);
    }
}
