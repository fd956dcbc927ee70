namespace DistributedExecutor.Tests.Fixtures;

/// <summary>A fresh folder under the temp directory, removed with everything in it when disposed.</summary>
public sealed class TempDirectory(string prefix) : IDisposable
{
    public string FullName { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    /// <summary>The path of <paramref name="name"/> inside the folder.</summary>
    public string File(string name) => Path.Combine(FullName, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(FullName, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
