using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Grpc.Core;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>A plug-in executor compiled here, dropped in a worker's EXECUTOR_PLUGINS_DIR and run end to end.</summary>
[Trait("Category", "EndToEnd")]
public sealed class PluginTests(PluginTests.Fixture fixture) : IClassFixture<PluginTests.Fixture>
{
    private const string Source = """
        using System.Text;
        using System.Threading;
        using System.Threading.Tasks;
        using DistributedExecutor.Contracts.Executors;
        using DistributedExecutor.Contracts.Messages;

        namespace Sample;

        public sealed class ShoutExecutor : ITaskExecutor
        {
            public string Name => "shout";

            public SpecVerdict Validate(ExecuteTask task) =>
                task.Parameters is { } p && p.ContainsKey("text") ? SpecVerdict.Ok : SpecVerdict.Invalid("parameters.text is required");

            public async Task<TaskRunResult> ExecuteAsync(ExecuteTask task, IOutputSink output, TaskStop stop)
            {
                await output.WriteAsync(OutputStreamKind.Stdout, Encoding.UTF8.GetBytes(task.Parameters!["text"].ToUpperInvariant() + "\n"));
                return TaskRunResult.Succeeded();
            }
        }
        """;

    private Cluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Run_PluginExecutor_RunsOnTheWorkerThatLoadedIt()
    {
        var result = await Cluster.DistctlAsync("run", "--wait", "--executor", "shout", "--param", "text=hello plug-in");

        Assert.True(result.ExitCode == 0, result + "\n" + Cluster.Logs());
        Assert.Equal("HELLO PLUG-IN\n", result.Stdout);
        var workers = await Cluster.WorkerControl.ListWorkersAsync(new ListWorkersRequest { Pool = "default" });
        Assert.Contains("shout", workers.Workers.Single().Executors);
    }

    [Fact]
    public async Task Run_PluginSpecTheWorkerRejects_FailsWithItsReason()
    {
        var result = await Cluster.DistctlAsync("run", "--wait", "--executor", "shout", "--param", "other=1");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("parameters.text is required", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_UnknownExecutor_InvalidArgument()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Submit(new TaskSpec { Plugin = new PluginSpec { Executor = "nonesuch" } }, "default"));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("executor \"nonesuch\" is unknown", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("shout", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_PluginToPoolWhoseWorkersLackIt_Refused()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Submit(new TaskSpec { Plugin = new PluginSpec { Executor = "shout", Parameters = { ["text"] = "x" } } }, "http-only"));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("pool \"http-only\"", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_CommandToPoolWhoseLiveWorkersDisabledIt_FailedPrecondition()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => Submit(new TaskSpec { Command = new CommandSpec { Program = "true" } }, "http-only"));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Contains("no live worker of pool \"http-only\" offers the command executor", ex.Status.Detail, StringComparison.Ordinal);
    }

    private async Task Submit(TaskSpec task, string pool)
    {
        var spec = new JobSpec { Pool = pool };
        spec.Tasks.Add(task);
        await Cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec });
    }

    /// <summary>One master without plug-ins, a worker that loads the compiled one, and a worker that runs no commands.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private readonly string _plugins = Directory.CreateTempSubdirectory("distexec-plugins-").FullName;

        public Cluster Cluster { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            PluginBuilder.Build(Source, "Sample.Shout", _plugins);
            Cluster = await Cluster.StartAsync(workers: 0);
            Cluster.StartWorker("plugin-worker", settings: new Dictionary<string, string> { ["EXECUTOR_PLUGINS_DIR"] = _plugins });
            Cluster.StartWorker("http-only-worker", "http-only", new Dictionary<string, string> { ["EXECUTOR_COMMAND_ENABLED"] = "false" });
            await Cluster.WaitForWorkersAsync(1);
            await Cluster.WaitForWorkersAsync(1, "http-only");
        }

        public async Task DisposeAsync()
        {
            await Cluster.DisposeAsync();
            Directory.Delete(_plugins, recursive: true);
        }
    }
}
