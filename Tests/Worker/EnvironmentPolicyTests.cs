using DistributedExecutor.Executors.Command;
using DistributedExecutor.Worker.Options;

namespace DistributedExecutor.Tests.Worker;

/// <summary>What a task's env may set: the loader/shell/interpreter family where an allow list holds, and the operator's lists.</summary>
public sealed class EnvironmentPolicyTests
{
    private static readonly Dictionary<string, string> Preload = new() { ["LD_PRELOAD"] = "/tmp/x.so" };

    [Fact]
    public void Check_NoAllowListNoSettings_AnythingGoes()
    {
        var policy = new EnvironmentPolicy(new CommandExecutorOptions());

        Assert.Null(policy.Check(Preload));
    }

    [Theory]
    [InlineData("LD_PRELOAD")]
    [InlineData("LD_ANYTHING_NEW")]
    [InlineData("BASH_FUNC_ls%%")]
    [InlineData("PYTHONWARNINGS")]
    [InlineData("GIT_CONFIG_COUNT")]
    [InlineData("PATH")]
    public void Check_AllowListSet_FamilyRefused(string name)
    {
        var policy = new EnvironmentPolicy(new CommandExecutorOptions { Allowed = ["echo"] });

        var refused = policy.Check(new Dictionary<string, string> { [name] = "x", ["GREETING"] = "hi" });

        Assert.NotNull(refused);
        Assert.Contains(name, refused, StringComparison.Ordinal);
        Assert.DoesNotContain("GREETING", refused, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_EnvAllowed_OnlyThoseNamesAndTheyMayBeFromTheFamily()
    {
        var policy = new EnvironmentPolicy(new CommandExecutorOptions { Allowed = ["python3"], EnvAllowed = ["PYTHONPATH", "APP_*"] });

        Assert.Null(policy.Check(new Dictionary<string, string> { ["PYTHONPATH"] = "/srv/lib", ["APP_MODE"] = "x" }));
        Assert.Contains("GREETING (not in EXECUTOR_COMMAND_ENV_ALLOWED)", policy.Check(new Dictionary<string, string> { ["GREETING"] = "x" }), StringComparison.Ordinal);
        Assert.NotNull(policy.Check(Preload));
    }

    [Fact]
    public void Check_EnvBlockedExplicit_AppliesWithoutAllowListAndWinsOverEnvAllowed()
    {
        var policy = new EnvironmentPolicy(new CommandExecutorOptions { EnvBlocked = ["SECRET_*"], EnvAllowed = ["SECRET_*", "LD_PRELOAD"] });

        Assert.Contains("EXECUTOR_COMMAND_ENV_BLOCKED", policy.Check(new Dictionary<string, string> { ["SECRET_X"] = "1" }), StringComparison.Ordinal);
        Assert.Null(policy.Check(Preload));
    }

    [Fact]
    public void Problems_BadPatterns_EachNamed()
    {
        var problems = EnvironmentPolicy.Problems("EXECUTOR_COMMAND_ENV_BLOCKED", ["OK_*", "*", "A*B", "X=1"]).ToList();

        Assert.Equal(3, problems.Count);
    }
}
