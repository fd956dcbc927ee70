using System.Diagnostics;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Bench;

/// <summary>
/// (7) Many workers on one master: simulated workers register, then heartbeat at the interval the master gives,
/// spread evenly over it, for a while, each on its own HeartbeatStream as a worker process does. The master's CPU
/// over that time (after a warm-up at the same rate) as a share of one core, and ListWorkers.
/// </summary>
internal static class RegistryLoad
{
    /// <summary>The heartbeating before the measured time: a sixth of it, between 5 and 15 s.</summary>
    private static TimeSpan WarmUp(TimeSpan duration) => TimeSpan.FromSeconds(Math.Clamp(duration.TotalSeconds / 6, 5, 15));

    public static async Task<(double CoreShare, double ListMilliseconds, int Alive)> RunAsync(Cluster cluster, int workers, TimeSpan duration)
    {
        var control = cluster.WorkerControl;
        var instance = Guid.NewGuid().ToString("N");
        var ids = Enumerable.Range(0, workers).Select(i => $"bench-sim-{i:D5}").ToList();
        RegisterWorkerResponse? reply = null;
        await Scenarios.ForEachAsync(workers, 32, async i => reply = await control.RegisterWorkerAsync(new RegisterWorkerRequest
        {
            WorkerId = ids[i],
            Pool = "registry",
            Capacity = 10,
            Address = $"127.0.0.1:{20000 + i}",
            Executors = { "command", "http" },
            InstanceId = instance,
            TaskIsolation = "simulated",
        }));
        var interval = reply!.HeartbeatInterval.ToTimeSpan();

        var failures = 0;

        // Each simulated worker's stream, opened up front as a fleet's are (a worker keeps its stream open).
        var streams = new Grpc.Core.AsyncDuplexStreamingCall<HeartbeatStreamRequest, HeartbeatStreamResponse>[workers];
        var gates = Enumerable.Range(0, workers).Select(_ => new SemaphoreSlim(1, 1)).ToArray();
        for (var i = 0; i < workers; i++)
        {
            streams[i] = control.HeartbeatStream();
        }

        await Scenarios.ForEachAsync(workers, 32, HeartbeatAsync);

        // Warm first, as a fleet that heartbeats for days is: the runtime compiles the heartbeat's path again,
        // optimised, once it is hot, and that one-off work is not the steady load measured here.
        await HeartbeatForAsync(WarmUp(duration));
        var cpu = CpuProfile.Start(new BenchProcesses(cluster.Master!.Pid, [], null));
        var seconds = await HeartbeatForAsync(duration);
        var share = cpu.Seconds("master") / seconds;
        for (var i = 0; i < workers; i++)
        {
            await gates[i].WaitAsync();
            await streams[i].RequestStream.CompleteAsync();
            streams[i].Dispose();
        }

        if (Volatile.Read(ref failures) > 0)
        {
            throw new InvalidOperationException($"{failures} heartbeats failed");
        }

        for (var i = 0; i < 5; i++)
        {
            await control.ListWorkersAsync(new ListWorkersRequest());
        }

        var samples = new List<double>();
        var alive = 0;
        for (var i = 0; i < 30; i++)
        {
            var list = Stopwatch.StartNew();
            var page = await control.ListWorkersAsync(new ListWorkersRequest());
            samples.Add(list.Elapsed.TotalMilliseconds);
            alive = page.Workers.Count(w => w.State == WorkerState.Alive);
        }

        return (share, Scenarios.Percentile(samples, 50), alive);

        // Each worker once per interval, evenly spread: the load a fleet of this size puts on the master.
        async Task<double> HeartbeatForAsync(TimeSpan length)
        {
            var clock = Stopwatch.StartNew();
            var gap = interval / workers;
            var next = 0;
            while (clock.Elapsed < length)
            {
                var i = next++ % workers;
                var due = gap * next;
                if (due > clock.Elapsed)
                {
                    await Task.Delay(due - clock.Elapsed);
                }

                _ = HeartbeatAsync(i);
            }

            return clock.Elapsed.TotalSeconds;
        }

        async Task HeartbeatAsync(int i)
        {
            await gates[i].WaitAsync();
            try
            {
                await streams[i].RequestStream.WriteAsync(new HeartbeatStreamRequest { Heartbeat = new HeartbeatRequest { WorkerId = ids[i], InstanceId = instance } });
                if (!await streams[i].ResponseStream.MoveNext(CancellationToken.None) || streams[i].ResponseStream.Current.Heartbeat?.Known != true)
                {
                    Interlocked.Increment(ref failures);
                }
            }
            catch (Grpc.Core.RpcException)
            {
                Interlocked.Increment(ref failures);
            }
            finally
            {
                gates[i].Release();
            }
        }
    }
}
