using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Executors;
using DistributedExecutor.Executors.Command;
using DistributedExecutor.Executors.Isolation;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Worker.Options;
using Microsoft.Extensions.Logging.Abstractions;

namespace DistributedExecutor.Tests.Master;

/// <summary>Admission and submission with a stand-in publisher (the real one is exercised end to end).</summary>
public sealed class JobSubmitterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distexec-submit-").FullName;
    private readonly FakePublisher _publisher = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Submit_BeyondMaxConcurrentJobs_Exhausted()
    {
        var (submitter, store) = Create(new MasterOptions { MaxConcurrentJobs = 2 });
        using var _ = store;

        Assert.IsType<SubmitResult.Accepted>(await submitter.SubmitAsync(Echo(), CancellationToken.None));
        Assert.IsType<SubmitResult.Accepted>(await submitter.SubmitAsync(Echo(), CancellationToken.None));
        var third = await submitter.SubmitAsync(Echo(), CancellationToken.None);

        var refused = Assert.IsType<SubmitResult.Refused>(third);
        Assert.Equal(Refusal.Exhausted, refused.Why);
        Assert.Contains("MAX_CONCURRENT_JOBS", refused.Reason, StringComparison.Ordinal);
        Assert.Equal(2, _publisher.Published.Count);
    }

    [Fact]
    public async Task Submit_ConcurrentAtTheLimit_NeverOvershoots()
    {
        var (submitter, store) = Create(new MasterOptions { MaxConcurrentJobs = 5 });
        using var _ = store;

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => Task.Run(() => submitter.SubmitAsync(Echo(), CancellationToken.None))));

        Assert.Equal(5, results.Count(r => r is SubmitResult.Accepted));
        Assert.Equal(5, store.ActiveJobs);
    }

    [Fact]
    public async Task Submit_BrokerRefuses_UnavailableAndNothingLeftBehind()
    {
        var (submitter, store) = Create(new MasterOptions());
        using var _ = store;
        _publisher.Fail = true;

        var result = await submitter.SubmitAsync(Echo(), CancellationToken.None);

        var refused = Assert.IsType<SubmitResult.Refused>(result);
        Assert.Equal(Refusal.Unavailable, refused.Why);
        Assert.Contains("nothing was queued", refused.Reason, StringComparison.Ordinal);
        Assert.Empty(store.ListJobs(TaskState.Unspecified, null, 10, null).Jobs);
        Assert.Equal(0, store.ActiveJobs);
    }

    [Fact]
    public async Task Submit_BlockedProgram_DeniedBeforePublishing()
    {
        var (submitter, store) = Create(new MasterOptions(), blocked: ["rm"]);
        using var _ = store;
        var spec = new JobSpec();
        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "/bin/../bin/rm", Args = { "-rf", "/" } } });

        var result = await submitter.SubmitAsync(spec, CancellationToken.None);

        var refused = Assert.IsType<SubmitResult.Refused>(result);
        Assert.Equal(Refusal.Denied, refused.Why);
        Assert.Contains("EXECUTOR_COMMAND_BLOCKED", refused.Reason, StringComparison.Ordinal);
        Assert.Empty(_publisher.Published);
        Assert.Empty(store.ListJobs(TaskState.Unspecified, null, 10, null).Jobs);
    }

    [Fact]
    public async Task Submit_NoTasks_Invalid()
    {
        var (submitter, store) = Create(new MasterOptions());
        using var _ = store;

        var result = await submitter.SubmitAsync(new JobSpec(), CancellationToken.None);

        Assert.Equal(["a job needs at least one task"], Assert.IsType<SubmitResult.Invalid>(result).Problems);
    }

    private (JobSubmitter Submitter, SqlJobStore Store) Create(MasterOptions options, string[]? blocked = null)
    {
        options.DatabasePath = Path.Combine(_dir, $"{Guid.NewGuid()}.db");
        var executorOptions = new ExecutorOptions { Command = new CommandExecutorOptions { Blocked = blocked ?? [] } };
        var executors = new ExecutorRegistry([new CommandExecutor(executorOptions, new CommandPolicy(executorOptions.Command), DistributedExecutor.Executors.Isolation.TaskIsolation.ValidationOnly, TimeProvider.System, NullLogger<CommandExecutor>.Instance)]);
        var store = new SqlJobStore(options, TimeProvider.System, new JobSignals());
        var registry = new DistributedExecutor.Master.Workers.WorkerRegistry(options, TimeProvider.System);
        var submitter = new JobSubmitter(new SubmissionValidator(options, executors, registry), store, new TaskDispatcher(_publisher, store, options), options, registry, new DistributedExecutor.Hosting.Telemetry.DistexecMetrics(), TimeProvider.System, NullLogger<JobSubmitter>.Instance);
        return (submitter, store);
    }

    private static JobSpec Echo()
    {
        var spec = new JobSpec();
        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "echo", Args = { "hi" } } });
        return spec;
    }

    private sealed class FakePublisher : ITaskPublisher
    {
        public System.Collections.Concurrent.ConcurrentBag<ExecuteTask> Published { get; } = [];

        public bool Fail { get; set; }

        public Task PublishAsync(string pool, IReadOnlyList<ExecuteTask> tasks, CancellationToken cancellationToken)
        {
            if (Fail)
            {
                throw new InvalidOperationException("broker unreachable");
            }

            foreach (var task in tasks)
            {
                Published.Add(task);
            }

            return Task.CompletedTask;
        }
    }
}
