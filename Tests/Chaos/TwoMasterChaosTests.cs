using System.Diagnostics;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Grpc.Core;
using Xunit.Abstractions;

namespace DistributedExecutor.Tests.Chaos;

/// <summary>
/// Two masters on one PostgreSQL store behind one address (a <see cref="TcpFront"/>, as a Kubernetes Service), workers
/// and clients reaching them only through it. Either master is killed with SIGKILL mid-run, round after round, and
/// started again: every accepted job ends in its true state with each task's output once, a submission is served by the
/// survivor within 5 s of the kill, a <c>distctl logs -f</c> following through the front resumes through the survivor
/// and prints every line once, and when the duties' lease holder is the one killed, the survivor takes the duties within
/// 15 s.
/// </summary>
[Collection(ChaosCollection.Name)]
[Trait("Category", "Chaos")]
public sealed class TwoMasterChaosTests(ChaosBroker chaos, ITestOutputHelper output)
{
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(180);
    private const string Took = "took the duties lease";

    [Fact]
    public async Task KillEitherOfTwoMasters_MidRun_NothingLost_SurvivorServesAtOnceAndTakesTheDuties()
    {
        var rounds = ChaosReport.Size(2, 20);
        var url = await (await PostgresServer.Shared).NewDatabaseUrlAsync();
        var settings = new Dictionary<string, string>
        {
            ["MAX_CONCURRENT_TASKS"] = "4",
            ["HEARTBEAT_TIMEOUT_SECONDS"] = "5",
            ["MASTER_DB_URL"] = url,
        };
        await using var cluster = await Cluster.StartAsync(0, settings, broker: chaos.Broker);
        var other = await cluster.StartAnotherMasterAsync();
        var front = TcpFront.Start([cluster.MasterAddress, other.Address]);
        try
        {
            cluster.ReachThrough(front.Address);
            foreach (var i in Enumerable.Range(1, 2))
            {
                cluster.StartWorker($"w{i}-{cluster.MasterPort}", settings: new Dictionary<string, string>(settings) { ["MASTER_ADDRESS"] = front.Address });
            }

            await cluster.WaitForWorkersAsync(2);
            var run = new ChaosRun(cluster, "11 kill -9 either of two masters (PostgreSQL)", rounds);
            var random = new Random();
            TimeSpan slowestServe = TimeSpan.Zero, slowestTakeover = TimeSpan.Zero;
            var takeovers = 0;
            for (var round = 0; round < rounds; round++)
            {
                var jobId = await run.SubmitAsync(10, _ => 0.2 + (random.NextDouble() * 0.8));
                await cluster.WaitForJobAsync(jobId, j => j.Tasks.Any(t => t.State == TaskState.Running) || DistributedExecutor.Master.Jobs.TaskRules.IsTerminal(j.State),
                    TimeSpan.FromSeconds(60), $"job {jobId} to start");

                // Someone follows it live through the front, as distctl does.
                var follower = cluster.DistctlAsync("logs", "-f", jobId);
                await Task.Delay(random.Next(100, 600));

                // Alternate the victim; note whether it holds the duties.
                var killA = round % 2 == 0;
                var victim = killA ? cluster.Master! : other.Process;
                var survivor = killA ? other.Process : cluster.Master!;
                var victimHeld = Holds(victim.Output);
                var survivorTookBefore = Count(survivor.Output, Took);
                var since = Stopwatch.StartNew();
                victim.Signal(9);
                Assert.True(await victim.WaitForExitAsync(TimeSpan.FromSeconds(10)));

                // Served by the survivor within 5 s of the kill.
                var after = await Eventually.Until(async () => (await run.TrySubmitAsync(2, _ => 0.1)).JobId, id => id is not null, TimeSpan.FromSeconds(5),
                    "a submission served by the surviving master");
                slowestServe = since.Elapsed > slowestServe ? since.Elapsed : slowestServe;

                if (victimHeld)
                {
                    await Eventually.Until(() => Count(survivor.Output, Took) > survivorTookBefore, TimeSpan.FromSeconds(15), "the survivor to take the duties");
                    slowestTakeover = since.Elapsed > slowestTakeover ? since.Elapsed : slowestTakeover;
                    takeovers++;
                }

                // The victim comes back on its own port.
                if (killA)
                {
                    await cluster.StartMasterAsync();
                }
                else
                {
                    await other.DisposeAsync();
                    other = await cluster.StartAnotherMasterAsync(other.Port);
                }

                await run.WaitRecoveredAsync(jobId, since, Recovery);
                await run.WaitRecoveredAsync(after!, since, Recovery);

                // The follower resumed through the survivor: every task's line, once, and it ended with the job.
                var followed = await follower.WaitAsync(Recovery);
                Assert.True(followed.ExitCode == 0, followed.ToString());
                var expected = (await cluster.OutputAsync(jobId)).Values.Select(o => o.Stdout).ToList();
                Assert.All(expected, line => Assert.Equal(1, Count(followed.Stdout, line.Trim())));
            }

            var report = await run.AuditAsync(Recovery);
            output.WriteLine(ChaosReport.Header);
            output.WriteLine(report.Row);
            output.WriteLine($"slowest submission served after a kill: {slowestServe.TotalSeconds:0.0} s; duties taken over {takeovers} time(s), slowest {slowestTakeover.TotalSeconds:0.0} s");
            Assert.True(report.Lost == 0 && report.Duplicated == 0, $"{report.Row}\n{string.Join("\n", run.Problems.Take(20))}\n{cluster.Logs()[^Math.Min(6000, cluster.Logs().Length)..]}");
            Assert.True(takeovers > 0, "the duties' holder was never among the killed: the takeover went untested");
        }
        finally
        {
            await front.DisposeAsync();
            await other.DisposeAsync();
        }
    }

    /// <summary>Whether a master's log says it holds the duties now (it took the lease and has not lost it since).</summary>
    private static bool Holds(string log) => log.LastIndexOf(Took, StringComparison.Ordinal) > log.LastIndexOf("lost the duties lease", StringComparison.Ordinal);

    private static int Count(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
