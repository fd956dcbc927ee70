using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.Deploy;

/// <summary>make dist: distctl for people without the SDK — a tarball whose checksum file verifies and whose binary runs with no .NET.</summary>
[Trait("Category", "Integration")]
public sealed class DistTests
{
    [Fact]
    public async Task MakeDist_TarballVerifiesAndItsDistctlRunsWithoutDotnet()
    {
        var made = await ProcessRunner.RunAsync("make", ["-s", "-C", RepoPaths.Root, "dist-package"], null, timeout: TimeSpan.FromMinutes(2));
        Assert.True(made.ExitCode == 0, made.ToString());
        var dist = Path.Combine(RepoPaths.Root, "artifacts", "dist");
        var tarball = Directory.GetFiles(dist, "distctl-*-linux-x64.tar.gz").Single();

        var verified = await ProcessRunner.RunAsync("sha256sum", ["-c", "SHA256SUMS"], null, workingDirectory: dist);
        Assert.True(verified.ExitCode == 0, verified.ToString());

        using var unpackedFolder = new TempDirectory("distexec-dist-");
        var unpacked = unpackedFolder.FullName;
        var untar = await ProcessRunner.RunAsync("tar", ["-xzf", tarball, "-C", unpacked], null);
        Assert.True(untar.ExitCode == 0, untar.ToString());
        Assert.Equal(["distctl"], Directory.GetFiles(unpacked).Select(Path.GetFileName));

        // No .NET on the PATH or in DOTNET_ROOT: the binary is Native AOT.
        var help = await ProcessRunner.RunAsync(Path.Combine(unpacked, "distctl"), ["--help"],
            new Dictionary<string, string?> { ["PATH"] = "/usr/bin:/bin", ["DOTNET_ROOT"] = "/nonexistent" });
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Contains("run", help.Stdout, StringComparison.Ordinal);
    }
}
