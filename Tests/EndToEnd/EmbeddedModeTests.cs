using System.Diagnostics;
using DistributedExecutor.Tests.Fixtures;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>The newcomer's path: a master with embedded workers and the in-memory bus, nothing else installed.</summary>
[Trait("Category", "EndToEnd")]
public sealed class EmbeddedModeTests
{
    [Fact]
    public async Task EmbeddedMaster_HelloWorld_Works()
    {
        var dir = Directory.CreateTempSubdirectory("distexec-embedded-").FullName;
        var port = FreePort.Next();
        try
        {
            await using var master = ChildProcess.Start("embedded", RepoPaths.Bin("master"), [], new Dictionary<string, string?>
            {
                ["MASTER_ADDRESS"] = $"localhost:{port}",
                ["MASTER_HTTP_ADDRESS"] = $"127.0.0.1:{FreePort.Next()}",
                ["EMBEDDED_WORKERS"] = "2",
                ["MASTER_DB_PATH"] = Path.Combine(dir, "master.db"),
                ["RABBITMQ_URL"] = null,
                ["API_TOKEN"] = null,
            });
            using var channel = GrpcChannel.ForAddress($"http://localhost:{port}");
            var health = new Health.HealthClient(channel);
            await Eventually.Until(
                async () => (await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2))).Status,
                s => s == HealthCheckResponse.Types.ServingStatus.Serving, TimeSpan.FromSeconds(60), "embedded master serving");

            var run = Process.Start(new ProcessStartInfo(RepoPaths.Bin("distctl"), ["--master", $"localhost:{port}", "run", "--command", "echo", "--args", "hello world", "--wait"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var stdout = await run.StandardOutput.ReadToEndAsync();
            var stderr = await run.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await run.WaitForExitAsync(cts.Token);

            Assert.True(run.ExitCode == 0, $"{stdout}\n{stderr}\n{master.Output}");
            Assert.Equal("hello world\n", stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Master_BadSetting_OneClearLinePerProblemAndExit2()
    {
        await using var master = ChildProcess.Start("bad", RepoPaths.Bin("master"), [], new Dictionary<string, string?>
        {
            ["MASTER_ADDRESS"] = "0.0.0.0:1",
            ["MAX_CONCURRENT_JOBS"] = "lots",
            ["LOG_LEVEL"] = "bogus",
            ["LOG_FORMAT"] = "xml",
            ["API_TOKEN"] = null,
        });

        Assert.True(await master.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, master.ExitCode);
        Assert.Contains("MAX_CONCURRENT_JOBS=lots is not a whole number", master.Output, StringComparison.Ordinal);
        Assert.Contains("set API_TOKEN", master.Output, StringComparison.Ordinal);
        Assert.Contains("LOG_LEVEL=bogus is not debug, info, warn or error", master.Output, StringComparison.Ordinal);
        Assert.Contains("LOG_FORMAT=xml is not text or json", master.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", master.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Master_LogFormatJson_EveryLineAJsonObjectWithLevelCategoryAndMessage()
    {
        var dir = Directory.CreateTempSubdirectory("distexec-jsonlogs-").FullName;
        var port = FreePort.Next();
        try
        {
            await using var master = ChildProcess.Start("json-logs", RepoPaths.Bin("master"), [], new Dictionary<string, string?>
            {
                ["MASTER_ADDRESS"] = $"localhost:{port}",
                ["MASTER_HTTP_ADDRESS"] = "off",
                ["EMBEDDED_WORKERS"] = "1",
                ["MASTER_DB_PATH"] = Path.Combine(dir, "master.db"),
                ["RABBITMQ_URL"] = null,
                ["API_TOKEN"] = null,
                ["LOG_FORMAT"] = "json",
            });
            using var channel = GrpcChannel.ForAddress($"http://localhost:{port}");
            var health = new Health.HealthClient(channel);
            await Eventually.Until(
                async () => (await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2))).Status,
                s => s == HealthCheckResponse.Types.ServingStatus.Serving, TimeSpan.FromSeconds(60), "embedded master serving");
            var run = await ProcessRunner.RunAsync(RepoPaths.Bin("distctl"), ["--master", $"localhost:{port}", "run", "--wait", "--", "sh", "-c", "exit 3"], null);
            Assert.True(run.ExitCode == 3, $"{run}\n{master.Output}");
            await Eventually.Until(() => master.Output.Contains("ended Failed", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the failed task logged");

            var lines = master.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.NotEmpty(lines);
            foreach (var line in lines)
            {
                using var entry = System.Text.Json.JsonDocument.Parse(line);
                Assert.True(entry.RootElement.TryGetProperty("LogLevel", out _), line);
                Assert.True(entry.RootElement.TryGetProperty("Category", out _), line);
                Assert.True(entry.RootElement.TryGetProperty("Message", out _), line);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
