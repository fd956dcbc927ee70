using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.Master;

/// <summary>With API_TOKEN set, nothing but health answers without it; workers present it too.</summary>
[Trait("Category", "Integration")]
public sealed class AuthenticationIntegrationTests
{
    [Fact]
    public async Task ApiToken_RequiredFromClientsAndWorkers()
    {
        const string Token = "s3cret-token-for-tests";
        await using var cluster = await Cluster.StartAsync(workers: 1, new Dictionary<string, string> { ["API_TOKEN"] = Token });

        var anonymous = await cluster.DistctlAsync("list");
        var wrong = await cluster.DistctlAsync("--token", "nope", "list");
        var right = await cluster.DistctlAsync("--token", Token, "run", "--wait", "--", "echo", "let in");

        Assert.True(anonymous.ExitCode == 125, anonymous.ToString());
        Assert.Contains("unauthenticated", anonymous.Stderr, StringComparison.Ordinal);
        Assert.Equal(125, wrong.ExitCode);
        Assert.True(right.ExitCode == 0, right.ToString());
        Assert.Equal("let in\n", right.Stdout);
        Assert.DoesNotContain(Token, cluster.Logs(), StringComparison.Ordinal);
    }
}
