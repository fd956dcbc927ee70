using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>HTTP tasks through distctl, the master, RabbitMQ and a worker, against a local Kestrel server.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class HttpTaskTests(ClusterFixture fixture) : IAsyncLifetime
{
    private HttpTarget _target = null!;

    private Cluster Cluster => fixture.Cluster;

    public async Task InitializeAsync() => _target = await HttpTarget.StartAsync();

    public async Task DisposeAsync() => await _target.DisposeAsync();

    [Fact]
    public async Task Run_HttpGet_BodyOnStdoutStatusRecorded()
    {
        var result = await Cluster.DistctlAsync("run", "--wait", "--http", _target.Url("/ok"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("hello", result.Stdout);
        var jobs = await Cluster.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 1 });
        var task = (await Cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = jobs.Jobs[0].Id })).Job.Tasks[0];
        Assert.Equal(TaskState.Succeeded, task.State);
        Assert.Equal(200, task.HttpStatus);
        Assert.Equal(200, task.Attempts.Single().HttpStatus);
    }

    [Fact]
    public async Task Run_HttpUnexpectedStatus_FailsWithExitOne()
    {
        var failed = await Cluster.DistctlAsync("run", "--wait", "--http", _target.Url("/status/500"));
        var expected = await Cluster.DistctlAsync("run", "--wait", "--http", _target.Url("/status/500"), "--expect", "500-599");

        Assert.True(failed.ExitCode == 1, failed.ToString());
        Assert.Contains("HTTP 500 is not an expected status (200-299)", failed.Stderr, StringComparison.Ordinal);
        Assert.True(expected.ExitCode == 0, expected.ToString());
    }

    [Fact]
    public async Task Run_HttpPostWithHeaderAndBody_Delivered()
    {
        var result = await Cluster.DistctlAsync("run", "--wait", "--http", _target.Url("/echo"), "-X", "PUT", "-H", "X-Test: from distctl", "-d", "payload");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("PUT from distctl", result.Stdout);
        Assert.Equal("payload", Assert.Single(_target.Seen["/echo"]).Body);
    }

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/iam/")]
    [InlineData("http://[::ffff:a9fe:a9fe]/")]
    public async Task Run_HttpToCloudMetadata_RefusedAtSubmission(string url)
    {
        var result = await Cluster.DistctlAsync("run", "--wait", "--http", url);

        Assert.True(result.ExitCode == 125, result.ToString());
        Assert.Contains("metadata", result.Stderr, StringComparison.Ordinal);
    }
}
