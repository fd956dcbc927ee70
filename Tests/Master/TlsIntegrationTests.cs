using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.Master;

/// <summary>Master and workers serving gRPC over TLS from PEM files; distctl trusting it through --ca-cert.</summary>
[Trait("Category", "Integration")]
public sealed class TlsIntegrationTests
{
    [Fact]
    public async Task Tls_WorkersAndDistctlWithCa_Work_WithoutCaOrPlainText_Refused()
    {
        using var certificate = new TestCertificate();
        await using var cluster = await Cluster.StartAsync(workers: 1, new Dictionary<string, string>
        {
            ["TLS_CERT_FILE"] = certificate.CertFile,
            ["TLS_KEY_FILE"] = certificate.KeyFile,
            ["API_TOKEN"] = "tls-client-token",
        });

        var trusted = await cluster.DistctlAsync("--token", "tls-client-token", "--ca-cert", certificate.CertFile, "run", "--wait", "--", "echo", "over tls");
        var untrusted = await cluster.DistctlAsync("--token", "tls-client-token", "list");
        var plain = await cluster.DistctlAsync("--master", $"127.0.0.1:{cluster.MasterPort}", "--token", "tls-client-token", "list");

        Assert.True(trusted.ExitCode == 0, trusted + cluster.Logs());
        Assert.Equal("over tls\n", trusted.Stdout);
        Assert.True(untrusted.ExitCode == 69, untrusted.ToString());
        Assert.Contains("--ca-cert", untrusted.Stderr, StringComparison.Ordinal);
        Assert.True(plain.ExitCode != 0, plain.ToString());
        var workers = await cluster.WorkerControl.ListWorkersAsync(new ListWorkersRequest());
        Assert.Equal(WorkerState.Alive, Assert.Single(workers.Workers).State);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("")]
    [InlineData("[::]")]
    public async Task Master_BeyondLoopbackWithoutToken_RefusesToStartWithOneLine(string host)
    {
        await using var master = ChildProcess.Start("open", RepoPaths.Bin("master"), [], new Dictionary<string, string?>
        {
            ["MASTER_ADDRESS"] = $"{host}:{FreePort.Next()}",
            ["MASTER_HTTP_ADDRESS"] = "off",
            ["API_TOKEN"] = null,
            ["API_TOKEN_FILE"] = null,
            ["EMBEDDED_WORKERS"] = "1",
        });

        Assert.True(await master.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, master.ExitCode);
        var line = Assert.Single(master.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("listens beyond loopback without authentication", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Master_CertWithoutKey_RefusesToStartWithOneLine()
    {
        using var certificate = new TestCertificate();
        await using var master = ChildProcess.Start("no-key", RepoPaths.Bin("master"), [], new Dictionary<string, string?>
        {
            ["MASTER_ADDRESS"] = $"127.0.0.1:{FreePort.Next()}",
            ["MASTER_HTTP_ADDRESS"] = "off",
            ["TLS_CERT_FILE"] = certificate.CertFile,
            ["TLS_KEY_FILE"] = null,
            ["EMBEDDED_WORKERS"] = "1",
        });

        Assert.True(await master.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, master.ExitCode);
        Assert.Contains("TLS_CERT_FILE and TLS_KEY_FILE go together", master.Output, StringComparison.Ordinal);
    }
}
