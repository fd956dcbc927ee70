using System.Net;
using System.Text;
using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Executors.Http;
using DistributedExecutor.Tests.Fixtures;
using DistributedExecutor.Worker.Options;
using Microsoft.Extensions.Logging.Abstractions;

namespace DistributedExecutor.Tests.Worker;

/// <summary>The HTTP executor against a real Kestrel server on loopback.</summary>
public sealed class HttpExecutorTests : IAsyncLifetime
{
    private HttpTarget _target = null!;

    public async Task InitializeAsync() => _target = await HttpTarget.StartAsync();

    public async Task DisposeAsync() => await _target.DisposeAsync();

    [Fact]
    public async Task Execute_Get_SucceedsWithBodyOnStdoutAndStatusLineOnStderr()
    {
        var sink = new RecordingSink();
        using var executor = Executor();

        var result = await executor.ExecuteAsync(Task(Spec(_target.Url("/ok"))), sink, CancellationToken.None);

        Assert.Equal(TaskOutcome.Succeeded, result.Outcome);
        Assert.Equal(200, result.HttpStatus);
        Assert.Equal("hello", sink.Stdout);
        Assert.StartsWith("HTTP/1.1 200 OK\n", sink.Stderr, StringComparison.Ordinal);
        Assert.Contains("Content-Type: text/plain", sink.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_PostWithHeadersAndBody_ServerReceivesThem()
    {
        var sink = new RecordingSink();
        using var executor = Executor();
        var spec = Spec(_target.Url("/echo")) with
        {
            Method = "POST",
            Headers = new Dictionary<string, string> { ["X-Test"] = "yes", ["Content-Type"] = "application/json" },
            Body = Encoding.UTF8.GetBytes("{\"a\":1}"),
        };

        var result = await executor.ExecuteAsync(Task(spec), sink, CancellationToken.None);

        Assert.Equal(TaskOutcome.Succeeded, result.Outcome);
        Assert.Equal("POST yes", sink.Stdout);
        var seen = Assert.Single(_target.Seen["/echo"]);
        Assert.Equal("{\"a\":1}", seen.Body);
        Assert.Contains("Content-Type: application/json", seen.Headers, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(500, null, TaskOutcome.Failed)]
    [InlineData(404, null, TaskOutcome.Failed)]
    [InlineData(204, null, TaskOutcome.Succeeded)]
    [InlineData(404, "404", TaskOutcome.Succeeded)]
    [InlineData(500, "200-299,400-499", TaskOutcome.Failed)]
    public async Task Execute_Status_MapsToOutcomeByExpectedRanges(int status, string? expected, TaskOutcome outcome)
    {
        using var executor = Executor();
        var ranges = expected?.Split(',').Select(r => r.Split('-')).Select(p => new StatusRange(int.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(p[^1], System.Globalization.CultureInfo.InvariantCulture))).ToList() ?? [];

        var result = await executor.ExecuteAsync(Task(Spec(_target.Url($"/status/{status}")) with { ExpectedStatus = ranges }), new RecordingSink(), CancellationToken.None);

        Assert.Equal(outcome, result.Outcome);
        Assert.Equal(status, result.HttpStatus);
        if (outcome == TaskOutcome.Failed)
        {
            Assert.Contains($"HTTP {status} is not an expected status", result.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Execute_BodyPastCap_KeepsCapAndSaysTruncated()
    {
        var sink = new RecordingSink();
        using var executor = Executor();

        var result = await executor.ExecuteAsync(Task(Spec(_target.Url("/big")) with { ResponseCapBytes = 1000 }), sink, CancellationToken.None);

        Assert.Equal(TaskOutcome.Succeeded, result.Outcome);
        Assert.True(result.Truncated);
        Assert.Equal(1000, sink.Stdout.Length);
        Assert.Contains("response body cut at 1000 bytes", sink.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_503WithRetryAfter_WaitsAsToldThenSucceeds()
    {
        var sink = new RecordingSink();
        using var executor = Executor();
        var key = Guid.NewGuid().ToString("N");

        var result = await executor.ExecuteAsync(Task(Spec(_target.Url($"/retry/{key}?failures=2&after=1")) with { MaxRetries = 3 }), sink, CancellationToken.None);

        Assert.Equal(TaskOutcome.Succeeded, result.Outcome);
        Assert.Equal("after 2 retries", sink.Stdout);
        var times = _target.Seen[$"/retry/{key}"].Select(s => s.At).ToList();
        Assert.Equal(3, times.Count);
        Assert.All(times.Zip(times.Skip(1)), pair => Assert.True(pair.Second - pair.First >= TimeSpan.FromSeconds(0.9), $"retried after {(pair.Second - pair.First).TotalSeconds}s"));
    }

    [Fact]
    public void Backoff_WithoutRetryAfter_ExponentialWithJitterInItsUpperHalf()
    {
        var random = new Random(42);
        for (var attempt = 0; attempt < 8; attempt++)
        {
            var ceiling = Math.Min(30, Math.Pow(2, attempt));
            var draws = Enumerable.Range(0, 50).Select(_ => HttpExecutor.Backoff(attempt, random).TotalSeconds).ToList();

            Assert.All(draws, d => Assert.InRange(d, ceiling / 2, ceiling));
            Assert.True(draws.Distinct().Count() > 40, "the waits are spread, so clients do not retry in step");
        }
    }

    [Fact]
    public async Task Execute_RetryAfterPastTimeout_GivesUpWithTheStatus()
    {
        var sink = new RecordingSink();
        using var executor = Executor();
        var key = Guid.NewGuid().ToString("N");

        var result = await executor.ExecuteAsync(Task(Spec(_target.Url($"/retry/{key}?failures=5&after=120")) with { MaxRetries = 5 }, TimeSpan.FromSeconds(10)), sink, CancellationToken.None);

        Assert.Equal(TaskOutcome.Failed, result.Outcome);
        Assert.Equal(503, result.HttpStatus);
        Assert.Single(_target.Seen[$"/retry/{key}"]);
        Assert.Contains("reaches past the task's timeout", sink.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_SlowServer_TimedOut()
    {
        using var executor = Executor();

        var result = await executor.ExecuteAsync(Task(Spec(_target.Url("/slow")), TimeSpan.FromSeconds(1)), new RecordingSink(), CancellationToken.None);

        Assert.Equal(TaskOutcome.TimedOut, result.Outcome);
    }

    [Fact]
    public async Task Execute_RedirectToMetadataAddress_RefusedAtConnect()
    {
        using var executor = Executor();
        var spec = Spec(_target.Url("/redirect?to=" + Uri.EscapeDataString("http://169.254.169.254/latest/meta-data/")));

        Assert.True(executor.Validate(Task(spec)).IsValid);
        var result = await executor.ExecuteAsync(Task(spec), new RecordingSink(), CancellationToken.None);

        Assert.Equal(TaskOutcome.Failed, result.Outcome);
        Assert.StartsWith("refused: 169.254.169.254", result.Error, StringComparison.Ordinal);
        Assert.Contains("metadata", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_NameResolvingToBlockedRange_RefusedAtConnect()
    {
        // "localhost" is a name: it is resolved when the connection is made, and every address it gives is blocked.
        using var executor = Executor(new HttpExecutorOptions { Blocked = ["loopback"] });
        var spec = Spec($"http://localhost:{_target.Port}/ok");

        var result = await executor.ExecuteAsync(Task(spec), new RecordingSink(), CancellationToken.None);

        Assert.Equal(TaskOutcome.Failed, result.Outcome);
        Assert.StartsWith("refused:", result.Error, StringComparison.Ordinal);
        Assert.False(_target.Seen.ContainsKey("/ok"));
    }

    [Fact]
    public async Task Execute_ClosedPort_FailsWithReason()
    {
        using var executor = Executor();

        var result = await executor.ExecuteAsync(Task(Spec($"http://127.0.0.1:{FreePort.Next()}/")), new RecordingSink(), CancellationToken.None);

        Assert.Equal(TaskOutcome.Failed, result.Outcome);
        Assert.StartsWith("request failed:", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("file:///etc/passwd", "only http and https")]
    [InlineData("ftp://127.0.0.1/", "only http and https")]
    [InlineData("gopher://127.0.0.1:70/", "only http and https")]
    [InlineData("/relative", "not an absolute URL")]
    [InlineData("http://user:pw@127.0.0.1/", "credentials")]
    [InlineData("http://exa mple.com/", "not an absolute URL")]
    [InlineData("", "http.url is empty")]
    public void Validate_BadUrl_ProblemSaysWhy(string url, string expected)
    {
        using var executor = Executor();

        var verdict = executor.Validate(Task(Spec(url)));

        Assert.Contains(verdict.Problems, p => p.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://[fd00:ec2::254]/")]
    [InlineData("http://169.254.1.1/")]
    [InlineData("http://[::ffff:169.254.169.254]/")]
    [InlineData("http://0.0.0.0:8080/")]
    [InlineData("http://[::]/")]
    public void Validate_BlockedLiteralAddress_Denied(string url)
    {
        using var executor = Executor();

        var verdict = executor.Validate(Task(Spec(url)));

        Assert.NotNull(verdict.Denied);
    }

    [Fact]
    public void Policy_AllowList_AdmitsOnlyItsRangesAndBlockedStillWins()
    {
        var policy = new AddressPolicy(new HttpExecutorOptions { Allowed = ["10.0.0.0/8", "loopback"], Blocked = ["10.1.0.0/16", "metadata"] });

        Assert.Null(policy.Check(IPAddress.Parse("10.2.3.4")));
        Assert.Null(policy.Check(IPAddress.Parse("127.0.0.1")));
        Assert.Null(policy.Check(IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.Contains("10.1.0.0/16", policy.Check(IPAddress.Parse("10.1.2.3")), StringComparison.Ordinal);
        Assert.Contains("EXECUTOR_HTTP_ALLOWED", policy.Check(IPAddress.Parse("8.8.8.8")), StringComparison.Ordinal);
        Assert.Equal(["EXECUTOR_HTTP_BLOCKED: \"nonsense\" is neither a CIDR, an address nor one of loopback, private, link-local, metadata"], AddressPolicy.Problems("EXECUTOR_HTTP_BLOCKED", ["nonsense", "10.0.0.0/8", "private"]));
    }

    private static HttpExecutor Executor(HttpExecutorOptions? options = null) =>
        new(new AddressPolicy(options ?? new HttpExecutorOptions()), TimeProvider.System, NullLogger<HttpExecutor>.Instance);

    private static HttpTask Spec(string url) => new("GET", url, new Dictionary<string, string>(), [], [], 1024 * 1024, 0);

    private static ExecuteTask Task(HttpTask spec, TimeSpan? timeout = null) =>
        new(Guid.NewGuid(), Guid.NewGuid(), "http", null, timeout ?? TimeSpan.FromSeconds(30), Http: spec);
}
