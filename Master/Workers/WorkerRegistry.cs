using System.Collections.Concurrent;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Options;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace DistributedExecutor.Master.Workers;

/// <summary>
/// The workers the master has heard from. A worker silent for HEARTBEAT_TIMEOUT_SECONDS is lost. The registry
/// lives in memory: after a master restart workers appear again with their next heartbeat. Where several masters
/// share a store, each shares what it heard through it (<see cref="RegistrySync"/>), so all list the same workers.
/// </summary>
internal sealed class WorkerRegistry(MasterOptions options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Entry> _workers = new();

    public DateTimeOffset StartedAt { get; } = time.GetUtcNow();

    public TimeSpan Timeout => TimeSpan.FromSeconds(options.HeartbeatTimeoutSeconds);

    /// <summary>How long a lost worker stays listed before it is forgotten.</summary>
    public TimeSpan ForgetAfter => TimeSpan.FromSeconds(options.LostWorkerRetentionSeconds);

    /// <summary>
    /// Records a registration; false when the id belongs to another live process (a worker id is bound to the
    /// instance that registered it until that one has been silent for the heartbeat timeout).
    /// </summary>
    public bool Register(RegisterWorkerRequest request)
    {
        var now = time.GetUtcNow();
        var entry = new Entry(request.Clone(), now, now, 0, false, false);
        while (true)
        {
            if (!_workers.TryGetValue(request.WorkerId, out var existing))
            {
                if (_workers.TryAdd(request.WorkerId, entry))
                {
                    return true;
                }

                continue;
            }

            if (existing.Registration.InstanceId != request.InstanceId && now - existing.LastHeartbeat <= Timeout)
            {
                return false;
            }

            if (_workers.TryUpdate(request.WorkerId, entry, existing))
            {
                return true;
            }
        }
    }

    /// <summary>False when the worker is unknown (it should register again).</summary>
    public bool Heartbeat(HeartbeatRequest request)
    {
        var now = time.GetUtcNow();
        while (_workers.TryGetValue(request.WorkerId, out var entry))
        {
            if (entry.Registration.InstanceId != request.InstanceId)
            {
                // Not the process that holds this id: it should register (and is refused while the holder lives).
                return false;
            }

            var updated = entry with { LastHeartbeat = now, Running = request.RunningTasks, Draining = request.Draining, LostReported = false, Local = true };
            if (_workers.TryUpdate(request.WorkerId, updated, entry))
            {
                return true;
            }
        }

        return false;
    }

    public bool IsAlive(string workerId) =>
        _workers.TryGetValue(workerId, out var entry) && time.GetUtcNow() - entry.LastHeartbeat <= Timeout;

    /// <summary>Whether the pool has live workers, and the executors they offer between them.</summary>
    public (bool Alive, IReadOnlySet<string> Executors) Offers(string pool)
    {
        var now = time.GetUtcNow();
        var alive = _workers.Values.Where(e => e.Registration.Pool == pool && now - e.LastHeartbeat <= Timeout).ToList();
        return (alive.Count > 0, alive.SelectMany(e => e.Registration.Executors).ToHashSet(StringComparer.Ordinal));
    }

    /// <summary>Workers that went silent since the last call (each reported once, again only after it comes back).</summary>
    public IReadOnlyList<string> NewlyLost()
    {
        var now = time.GetUtcNow();
        var lost = new List<string>();
        foreach (var (id, entry) in _workers)
        {
            if (entry.LostReported && now - entry.LastHeartbeat > Timeout + ForgetAfter)
            {
                // Lost long enough: forget it, so registrations of workers long gone do not pile up.
                _workers.TryRemove(new KeyValuePair<string, Entry>(id, entry));
                continue;
            }

            if (!entry.LostReported && now - entry.LastHeartbeat > Timeout && _workers.TryUpdate(id, entry with { LostReported = true }, entry))
            {
                lost.Add(id);
            }
        }

        return lost;
    }

    /// <summary>Per pool: workers alive (or draining) and their summed capacity.</summary>
    public IReadOnlyDictionary<string, (int Alive, int Capacity)> AliveByPool()
    {
        var now = time.GetUtcNow();
        return _workers.Values
            .Where(e => now - e.LastHeartbeat <= Timeout)
            .GroupBy(e => e.Registration.Pool, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (g.Count(), g.Sum(e => e.Registration.Capacity)), StringComparer.Ordinal);
    }

    /// <summary>Workers ordered by pool then id, after <paramref name="after"/> (the last one of the previous page), at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<WorkerInfo> List(string? pool, (string Pool, string WorkerId)? after = null, int limit = int.MaxValue, IReadOnlyDictionary<string, string>? where = null)
    {
        var now = time.GetUtcNow();
        return _workers.Values
            .Where(e => string.IsNullOrEmpty(pool) || e.Registration.Pool == pool)
            .Where(e => where is null || where.All(w => e.Registration.Labels.TryGetValue(w.Key, out var value) && value == w.Value))
            .Where(e => after is not { } a
                || string.CompareOrdinal(e.Registration.Pool, a.Pool) > 0
                || (e.Registration.Pool == a.Pool && string.CompareOrdinal(e.Registration.WorkerId, a.WorkerId) > 0))
            .OrderBy(e => e.Registration.Pool, StringComparer.Ordinal)
            .ThenBy(e => e.Registration.WorkerId, StringComparer.Ordinal)
            .Take(limit)
            .Select(e =>
            {
                var info = new WorkerInfo
                {
                    WorkerId = e.Registration.WorkerId,
                    Pool = e.Registration.Pool,
                    Capacity = e.Registration.Capacity,
                    RunningTasks = e.Running,
                    Address = e.Registration.Address,
                    RegisteredAt = Timestamp.FromDateTimeOffset(e.RegisteredAt),
                    LastHeartbeatAt = Timestamp.FromDateTimeOffset(e.LastHeartbeat),
                    State = now - e.LastHeartbeat > Timeout ? WorkerState.Lost : e.Draining ? WorkerState.Draining : WorkerState.Alive,
                    TaskIsolation = e.Registration.TaskIsolation,
                };
                info.Executors.AddRange(e.Registration.Executors);
                info.Labels.Add(e.Registration.Labels);
                return info;
            })
            .ToList();
    }

    /// <summary>The workers this master heard from itself since <paramref name="since"/>, to share with the other masters.</summary>
    public IReadOnlyList<Jobs.Store.SharedWorker> HeardSince(DateTimeOffset since) =>
        [.. _workers.Values.Where(e => e.Local && e.LastHeartbeat > since).Select(e => new Jobs.Store.SharedWorker(
            e.Registration.WorkerId, e.Registration.ToByteArray(), e.RegisteredAt.ToUnixTimeMilliseconds(), e.LastHeartbeat.ToUnixTimeMilliseconds(), e.Running, e.Draining))];

    /// <summary>Takes in what other masters heard: a worker's newer heartbeat wins, wherever it landed.</summary>
    public void Merge(IEnumerable<Jobs.Store.SharedWorker> heard)
    {
        foreach (var worker in heard)
        {
            var seen = DateTimeOffset.FromUnixTimeMilliseconds(worker.LastHeartbeat);
            var entry = new Entry(RegisterWorkerRequest.Parser.ParseFrom(worker.Registration), DateTimeOffset.FromUnixTimeMilliseconds(worker.RegisteredAt), seen,
                worker.Running, worker.Draining, LostReported: false, Local: false);
            _workers.AddOrUpdate(worker.WorkerId, entry, (_, existing) => existing.LastHeartbeat < seen ? entry with { LostReported = existing.LostReported && existing.LastHeartbeat >= seen } : existing);
        }
    }

    /// <param name="Local">Heard by this master itself (not learned from another through the store).</param>
    private sealed record Entry(RegisterWorkerRequest Registration, DateTimeOffset RegisteredAt, DateTimeOffset LastHeartbeat, int Running, bool Draining, bool LostReported, bool Local = true);
}
