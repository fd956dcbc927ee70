using DistributedExecutor.Master.Jobs.Store;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Master.Workers;
using Grpc.Core;
using MassTransit;
using V1 = DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Services;

/// <summary>The user-facing API: submit, get, list, cancel and watch jobs.</summary>
internal sealed class JobService(JobSubmitter submitter, IJobStore store, JobSignals signals, WorkerRegistry registry, IBus bus, TimeProvider time, Options.MasterOptions options, TaskDispatcher dispatcher) : V1.JobService.JobServiceBase
{
    /// <summary>Label filters ListJobs takes at once: each is a join, and a query joins at most 64 tables.</summary>
    private const int MaxLabelFilters = 16;

    private const int OutputPage = 512;

    /// <summary>Output chunks a watcher reads with its job at a wake-up, on the store's writing connection.</summary>
    private const int ProgressPage = 16;
    private const int MaxOutputLimit = 5000;

    public override async Task<SubmitJobResponse> SubmitJob(SubmitJobRequest request, ServerCallContext context)
    {
        var result = await submitter.SubmitAsync(request.Spec, context.CancellationToken, TokenAuthInterceptor.CallerOf(context).Name).ConfigureAwait(false);
        return new SubmitJobResponse { Job = RpcErrors.JobOrThrow(result) };
    }

    public override Task<GetJobResponse> GetJob(GetJobRequest request, ServerCallContext context)
    {
        var id = ResolveJobId(request.JobId);
        if (request.TaskOffset < 0 || request.TaskLimit < 0 || !Enum.IsDefined(request.TaskState) || request.TaskState is TaskState.Scheduled or TaskState.Waiting or TaskState.Lost)
        {
            throw RpcErrors.Invalid("task_offset and task_limit must not be negative, and task_state a task's state (queued, running, succeeded, failed, timed out, canceled)");
        }

        var page = request.TaskOffset > 0 || request.TaskLimit > 0 || request.TaskState != TaskState.Unspecified
            ? new TaskPage(request.TaskOffset, request.TaskLimit, request.TaskState == TaskState.Unspecified ? null : request.TaskState)
            : null;
        var job = store.GetJob(id, withTasks: !request.CountsOnly, page) ?? throw RpcErrors.NotFound($"job {id}");
        job.Counts = store.TaskCounts(id);
        return Task.FromResult(new GetJobResponse { Job = job });
    }

    public override Task<ListJobsResponse> ListJobs(ListJobsRequest request, ServerCallContext context)
    {
        var pageSize = request.PageSize switch
        {
            0 => 50,
            < 0 or > 1000 => throw RpcErrors.Invalid($"page_size {request.PageSize} must be between 1 and 1000"),
            var size => size,
        };
        if (!Enum.IsDefined(request.State))
        {
            throw RpcErrors.Invalid($"state {(int)request.State} is not a task state");
        }

        long? before = null;
        if (request.PageToken.Length > 0)
        {
            before = long.TryParse(request.PageToken, out var token) && token > 0
                ? token
                : throw RpcErrors.Invalid("page_token is not one this server issued");
        }

        foreach (var filter in request.LabelFilter)
        {
            var eq = filter.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw RpcErrors.Invalid($"label_filter \"{DistributedExecutor.Executors.SpecText.Printable(filter)}\" is not key=value");
            }

            request.Labels[filter[..eq]] = filter[(eq + 1)..];
        }

        if (request.Labels.Count > MaxLabelFilters)
        {
            throw RpcErrors.Invalid($"{request.Labels.Count} label filters: at most {MaxLabelFilters} at once");
        }

        foreach (var (key, value) in request.Labels)
        {
            if (!JobRules.IsValidLabelKey(key))
            {
                throw RpcErrors.Invalid($"label \"{DistributedExecutor.Executors.SpecText.Printable(key)}\": {JobRules.LabelKeyRule}");
            }
        }

        var (jobs, next) = store.ListJobs(request.State, request.Pool, pageSize, before, request.Labels, request.SubmittedBy, request.Search.Trim());
        var response = new ListJobsResponse { NextPageToken = next };
        response.Jobs.AddRange(jobs);
        return Task.FromResult(response);
    }

    public override async Task<CancelJobResponse> CancelJob(CancelJobRequest request, ServerCallContext context)
    {
        var id = ResolveJobId(request.JobId);
        var caller = TokenAuthInterceptor.CallerOf(context).Name;
        var canceled = store.CancelJob(id, caller) ?? throw RpcErrors.NotFound($"job {id}");
        await bus.Publish(new Contracts.Messages.CancelTask(id, null, caller.Length > 0 ? $"canceled by {caller}" : "canceled by user"), context.CancellationToken).ConfigureAwait(false);
        await dispatcher.DispatchAsync(canceled.Released, context.CancellationToken).ConfigureAwait(false);
        return new CancelJobResponse { Job = canceled.Job };
    }

    public override async Task<SetLimitResponse> SetLimit(SetLimitRequest request, ServerCallContext context)
    {
        if (!JobRules.IsValidLabelKey(request.Key) || request.Max is < 1 or > 1_000_000)
        {
            throw RpcErrors.Invalid($"key \"{DistributedExecutor.Executors.SpecText.Printable(request.Key)}\" (1-63 letters, digits, '.', '_', '-' or '/') with max between 1 and 1000000");
        }

        await dispatcher.DispatchAsync(store.SetLimit(request.Key, request.Max), context.CancellationToken).ConfigureAwait(false);
        return new SetLimitResponse { Limit = store.Limits().Single(l => l.Key == request.Key) };
    }

    public override Task<ListLimitsResponse> ListLimits(ListLimitsRequest request, ServerCallContext context)
    {
        var response = new ListLimitsResponse();
        response.Limits.AddRange(store.Limits());
        return Task.FromResult(response);
    }

    public override async Task<DeleteLimitResponse> DeleteLimit(DeleteLimitRequest request, ServerCallContext context)
    {
        var existing = store.Limits().FirstOrDefault(l => l.Key == request.Key) ?? throw RpcErrors.NotFound($"no limit for key {DistributedExecutor.Executors.SpecText.Printable(request.Key)}");
        await dispatcher.DispatchAsync(store.SetLimit(request.Key, null), context.CancellationToken).ConfigureAwait(false);
        return new DeleteLimitResponse { Limit = existing };
    }

    public override Task<GetHistoryResponse> GetHistory(GetHistoryRequest request, ServerCallContext context)
    {
        var minutes = request.Minutes switch
        {
            0 => 60,
            < 0 or > 1440 => throw RpcErrors.Invalid($"minutes {request.Minutes} must be between 1 and 1440 (the master keeps a day)"),
            var m => m,
        };
        var response = new GetHistoryResponse { IntervalSeconds = options.HistoryIntervalSeconds };
        response.Points.AddRange(store.ReadHistory(time.GetUtcNow() - TimeSpan.FromMinutes(minutes)));
        return Task.FromResult(response);
    }

    public override Task<WhoAmIResponse> WhoAmI(WhoAmIRequest request, ServerCallContext context)
    {
        var caller = TokenAuthInterceptor.CallerOf(context);
        var response = new WhoAmIResponse
        {
            Name = caller.Name,
            CanSubmit = caller.Roles.Overlaps(TokenAuthorizer.RolesFor("/distexec.v1.JobService/SubmitJob")),
            CanCancel = caller.Roles.Overlaps(TokenAuthorizer.RolesFor("/distexec.v1.JobService/CancelJob")),
        };
        response.Roles.AddRange(caller.Roles.Order().Select(r => r.ToString().ToLowerInvariant()));
        return Task.FromResult(response);
    }

    public override Task<GetOutputResponse> GetOutput(GetOutputRequest request, ServerCallContext context)
    {
        var id = ResolveJobId(request.JobId);
        if (request.FromOffset < 0)
        {
            throw RpcErrors.Invalid("from_offset must not be negative");
        }

        var limit = request.Limit switch
        {
            0 => 500,
            < 0 or > MaxOutputLimit => throw RpcErrors.Invalid($"limit {request.Limit} must be between 1 and {MaxOutputLimit}"),
            var value => value,
        };
        if (store.GetJob(id, withTasks: false) is null)
        {
            throw RpcErrors.NotFound($"job {id}");
        }

        var chunks = store.ReadOutput(id, request.FromOffset, limit);
        var response = new GetOutputResponse { NextOffset = chunks.Count > 0 ? chunks[^1].Offset : request.FromOffset };
        response.Chunks.AddRange(chunks);
        return Task.FromResult(response);
    }

    public override Task<ListPoolsResponse> ListPools(ListPoolsRequest request, ServerCallContext context)
    {
        var counts = store.PoolCounts();
        var workers = registry.AliveByPool();
        var response = new ListPoolsResponse();
        foreach (var pool in counts.Keys.Union(workers.Keys).Order(StringComparer.Ordinal))
        {
            var (queued, running) = counts.GetValueOrDefault(pool);
            var (alive, capacity) = workers.GetValueOrDefault(pool);
            response.Pools.Add(new PoolInfo { Name = pool, QueuedTasks = queued, RunningTasks = running, WorkersAlive = alive, Capacity = capacity });
        }

        return Task.FromResult(response);
    }

    public override async Task WatchJob(WatchJobRequest request, IServerStreamWriter<WatchJobResponse> responseStream, ServerCallContext context)
    {
        var id = ResolveJobId(request.JobId);
        if (request.FromOffset < 0)
        {
            throw RpcErrors.Invalid("from_offset must not be negative");
        }

        var cancellationToken = context.CancellationToken;
        var offset = request.FromOffset;
        var lastState = TaskState.Unspecified;
        while (!cancellationToken.IsCancellationRequested)
        {
            // Take the wake-up before reading so a change between the read and the wait is not missed. The job and
            // its output come from one snapshot: a job seen ended comes with all its output.
            var changed = signals.NextChange(id);
            // The first page small (it is read where writes wait), the rest, if any, in full pages.
            var (job, chunks) = await store.ReadProgressAsync(id, offset, ProgressPage).ConfigureAwait(false) ?? throw RpcErrors.NotFound($"job {id}");
            for (var page = ProgressPage; ; page = OutputPage)
            {
                foreach (var chunk in chunks)
                {
                    await responseStream.WriteAsync(new WatchJobResponse { Output = chunk }, cancellationToken).ConfigureAwait(false);
                    offset = chunk.Offset;
                }

                if (chunks.Count < page)
                {
                    break;
                }

                chunks = store.ReadOutput(id, offset, OutputPage);
            }

            if (job.State != lastState)
            {
                lastState = job.State;
                await responseStream.WriteAsync(new WatchJobResponse { State = new JobStateChange { Job = job } }, cancellationToken).ConfigureAwait(false);
            }

            if (TaskRules.IsTerminal(job.State))
            {
                signals.Forget(id);
                return;
            }

            if (!request.Follow)
            {
                return;
            }

            // The timeout is a safety net only; changes wake the stream at once (and WaitAsync then drops its timer).
            try
            {
                await changed.WaitAsync(TimeSpan.FromSeconds(5), time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>
    /// A full job id, or a unique prefix of one (at least 4 characters, as docker and nomad take them): the prefix
    /// names exactly one job, else the caller hears that none or several match.
    /// </summary>
    private Guid ResolveJobId(string value)
    {
        var text = value.Trim().ToLowerInvariant();
        if (text.Length is >= 4 and < 36 && text.All(c => char.IsAsciiHexDigitLower(c) || char.IsAsciiDigit(c) || c == '-'))
        {
            var matches = store.JobIdsStartingWith(text, 6);
            return matches.Count switch
            {
                1 => matches[0],
                0 => throw RpcErrors.NotFound($"job {text}… (no job id starts with it)"),
                _ => throw RpcErrors.Invalid($"job id prefix {text} is ambiguous: it starts {string.Join(", ", matches.Take(5))}{(matches.Count > 5 ? " …" : "")}; give more of it"),
            };
        }

        return RpcErrors.ParseId(value, "job_id");
    }
}
