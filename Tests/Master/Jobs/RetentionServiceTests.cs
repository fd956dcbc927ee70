using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace DistributedExecutor.Tests.Master.Jobs;

/// <summary>Retention on a fake clock, in either store: a finished job goes once it is older than JOB_RETENTION_HOURS, a running one stays.</summary>
public sealed class RetentionServiceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distexec-retention-").FullName;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-11-27T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Retention_FinishedJobOlderThanTheHours_Removed_RunningJobKept(string storeKind)
    {
        var options = new MasterOptions
        {
            DatabasePath = Path.Combine(_dir, "master.db"),
            DatabaseUrl = storeKind == "postgres" ? await (await PostgresServer.Shared).NewDatabaseUrlAsync() : null,
            JobRetentionHours = 1,
        };
        using var store = new SqlJobStore(options, _time, new JobSignals());
        var finished = await JobAsync(store, TaskOutcome.Succeeded);
        var running = await JobAsync(store, outcome: null);
        using var service = new RetentionService(store, options, _time, NullLogger<RetentionService>.Instance);
        await service.StartAsync(CancellationToken.None);

        // Not yet an hour old: a tick passes and both stay.
        _time.Advance(TimeSpan.FromMinutes(50));
        await Task.Yield();
        Assert.NotNull(store.GetJob(finished, withTasks: false));

        _time.Advance(TimeSpan.FromMinutes(11));
        await Eventually.Until(async () =>
        {
            _time.Advance(TimeSpan.FromSeconds(30));
            await Task.Yield();
            return store.GetJob(finished, withTasks: false) is null;
        }, gone => gone, TimeSpan.FromSeconds(10), "the finished job removed");
        Assert.Equal(TaskState.Running, store.GetJob(running, withTasks: false)!.State);
        await service.StopAsync(CancellationToken.None);
    }

    private async Task<Guid> JobAsync(SqlJobStore store, TaskOutcome? outcome)
    {
        var (jobId, taskId, attempt) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        store.CreateJob(jobId, "default", [(taskId, new TaskSpec { Command = new CommandSpec { Program = "true" } })]);
        store.MarkPublished(jobId);
        await store.ApplyStartedAsync(new TaskStarted(jobId, taskId, attempt, "w", 1, _time.GetUtcNow()));
        if (outcome is { } ended)
        {
            await store.ApplyFinishedAsync(new TaskFinished(jobId, taskId, attempt, "w", ended, 0, null, null, false, _time.GetUtcNow(), _time.GetUtcNow()));
        }

        return jobId;
    }
}
