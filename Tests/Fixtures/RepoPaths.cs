namespace DistributedExecutor.Tests.Fixtures;

/// <summary>Where the built programs are: bin/ at the repository root (make build).</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Bin(string program)
    {
        var path = Path.Combine(Root, "bin", program);
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"{path} does not exist: run 'make build' first (make test does)");
        }

        return path;
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DistributedExecutor.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (DistributedExecutor.sln)");
    }
}
