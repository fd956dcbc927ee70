using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using YamlDotNet.RepresentationModel;

namespace DistributedExecutor.Tests.Chaos;

/// <summary>
/// Kubernetes' liveness probes, played against real processes on the schedule the chart gives them (read from the
/// rendered manifests in deploy/k8s): every period, a gRPC health check of the "liveness" service with the probe's
/// timeout; <c>failureThreshold</c> failures in a row is a restart the kubelet would have made.
/// </summary>
public sealed class LivenessProbes : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly List<Target> _targets = [];

    /// <summary>A probe's schedule as the chart sets it (Kubernetes' defaults where it sets none).</summary>
    public sealed record Schedule(TimeSpan Period, TimeSpan Timeout, int FailureThreshold);

    public sealed class Target(string name, int port, Schedule schedule)
    {
        public string Name => name;

        public int Port => port;

        public Schedule Schedule => schedule;

        public int Probes { get; set; }

        public int Failures { get; set; }

        public int MostFailuresInARow { get; set; }

        public bool WouldRestart => MostFailuresInARow >= schedule.FailureThreshold;

        public override string ToString() =>
            $"{name}: {Probes} probes every {schedule.Period.TotalSeconds:0} s, {Failures} failed, at most {MostFailuresInARow} in a row (restart at {schedule.FailureThreshold})";
    }

    public IReadOnlyList<Target> Targets => _targets;

    /// <summary>The liveness probe of the chart's master StatefulSet and of a pool's worker Deployment.</summary>
    public static (Schedule Master, Schedule Worker) FromChart()
    {
        var path = Path.Combine(Fixtures.RepoPaths.Root, "deploy", "k8s", "distributed-executor.yaml");
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(path)));
        Schedule? master = null, worker = null;
        foreach (var document in stream.Documents)
        {
            if (document.RootNode is not YamlMappingNode root || !root.Children.TryGetValue(new YamlScalarNode("kind"), out var kind)
                || ((YamlScalarNode)kind).Value is not ("StatefulSet" or "Deployment"))
            {
                continue;
            }

            var container = (YamlMappingNode)((YamlSequenceNode)Child(Child(Child(Child(root, "spec"), "template"), "spec"), "containers")).Children[0];
            var probe = (YamlMappingNode)Child(container, "livenessProbe");
            var schedule = new Schedule(
                TimeSpan.FromSeconds(Number(probe, "periodSeconds", 10)),
                TimeSpan.FromSeconds(Number(probe, "timeoutSeconds", 1)),
                Number(probe, "failureThreshold", 3));
            switch (((YamlScalarNode)kind).Value)
            {
                case "StatefulSet":
                    master = schedule;
                    break;
                case "Deployment":
                    worker = schedule;
                    break;
            }
        }

        return (master ?? throw new InvalidOperationException($"no master StatefulSet in {path}"), worker ?? throw new InvalidOperationException($"no worker Deployment in {path}"));
    }

    /// <summary>Starts probing 127.0.0.1:<paramref name="port"/> on <paramref name="schedule"/>.</summary>
    public Target Watch(string name, int port, Schedule schedule)
    {
        var target = new Target(name, port, schedule);
        _targets.Add(target);
        _loops.Add(Task.Run(() => ProbeAsync(target, _stop.Token)));
        return target;
    }

    private static async Task ProbeAsync(Target target, CancellationToken stop)
    {
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{target.Port}");
        var health = new Health.HealthClient(channel);
        var inARow = 0;
        using var timer = new PeriodicTimer(target.Schedule.Period);
        do
        {
            bool live;
            try
            {
                var reply = await health.CheckAsync(new HealthCheckRequest { Service = "liveness" }, deadline: DateTime.UtcNow + target.Schedule.Timeout, cancellationToken: stop);
                live = reply.Status == HealthCheckResponse.Types.ServingStatus.Serving;
            }
            catch (RpcException) when (!stop.IsCancellationRequested)
            {
                live = false;
            }
            catch (OperationCanceledException)
            {
                return;
            }

            lock (target)
            {
                target.Probes++;
                inARow = live ? 0 : inARow + 1;
                target.Failures += live ? 0 : 1;
                target.MostFailuresInARow = Math.Max(target.MostFailuresInARow, inARow);
            }
        }
        while (await NextAsync(timer, stop));
    }

    private static async Task<bool> NextAsync(PeriodicTimer timer, CancellationToken stop)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stop);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static YamlNode Child(YamlNode node, string key) => ((YamlMappingNode)node).Children[new YamlScalarNode(key)];

    private static int Number(YamlMappingNode node, string key, int kubernetesDefault) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? int.Parse(((YamlScalarNode)value).Value!, System.Globalization.CultureInfo.InvariantCulture) : kubernetesDefault;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
        _stop.Dispose();
    }
}
