using DistributedExecutor.Executors.Command;
using DistributedExecutor.Worker.Options;

namespace DistributedExecutor.Tests.Worker;

/// <summary>Policy is checked on the resolved executable, so spelling cannot slip past it.</summary>
public sealed class CommandPolicyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distexec-policy-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("rm")]
    [InlineData("/bin/rm")]
    [InlineData("/bin/../bin/rm")]
    [InlineData("/usr/bin/rm")]
    public void Check_BlockedByName_RefusedHoweverSpelled(string program)
    {
        var policy = new CommandPolicy(new CommandExecutorOptions { Blocked = ["rm"] });

        Assert.True(ExecutableResolver.TryResolve(program, null, "/", out var real, out _));
        Assert.NotNull(policy.Check(program, real));
    }

    [Fact]
    public void Check_SymlinkToBlockedProgram_Refused()
    {
        var link = Path.Combine(_dir, "innocent");
        File.CreateSymbolicLink(link, "/bin/rm");
        var policy = new CommandPolicy(new CommandExecutorOptions { Blocked = ["/usr/bin/rm"] });

        Assert.True(ExecutableResolver.TryResolve(link, null, "/", out var real, out _));
        Assert.NotNull(policy.Check(link, real));
    }

    [Fact]
    public void Check_PathTrickWithCopyNamedLikeAllowed_Refused()
    {
        // A PATH pointing at a folder with its own "echo" (really a copy of rm) does not pass an allow list of echo.
        var fake = Path.Combine(_dir, "echo");
        File.Copy("/bin/rm", fake);
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        var policy = new CommandPolicy(new CommandExecutorOptions { Allowed = ["echo"] });

        Assert.True(ExecutableResolver.TryResolve("echo", _dir, "/", out var real, out _));
        Assert.Equal(fake, real);
        Assert.NotNull(policy.Check("echo", real));
        Assert.True(ExecutableResolver.TryResolve("echo", null, "/", out var genuine, out _));
        Assert.Null(policy.Check("echo", genuine));
    }

    [Fact]
    public void Check_Disabled_RefusesEverything()
    {
        var policy = new CommandPolicy(new CommandExecutorOptions { Enabled = false });

        Assert.Contains("EXECUTOR_COMMAND_ENABLED", policy.Check("true", "/usr/bin/true"), StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_NotExecutable_SaysSo()
    {
        var file = Path.Combine(_dir, "data.txt");
        File.WriteAllText(file, "x");

        Assert.False(ExecutableResolver.TryResolve(file, null, "/", out _, out var error));
        Assert.Contains("not an executable", error, StringComparison.Ordinal);
    }
}
