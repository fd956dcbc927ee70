using System.Diagnostics;
using System.Globalization;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Master.Jobs;
using DistributedExecutor.Tests.Fixtures;
using Grpc.Core;

namespace DistributedExecutor.Tests.Chaos;

/// <summary>
/// Submits audited jobs (every task prints a token of its own) and, at the end, checks each accepted job: it must
/// reach its true final state, and each task's output must be in the final record exactly once.
/// </summary>
public sealed class ChaosRun(Cluster cluster, string scenario, int rounds)
{
    private readonly List<(string JobId, string[] Tokens, TaskState Expected)> _jobs = [];
    private TimeSpan _longestRecovery;

    public Cluster Cluster => cluster;

    public IReadOnlyList<string> JobIds => [.. _jobs.Select(j => j.JobId)];

    /// <summary>A job of <paramref name="tasks"/> tasks, task i sleeping <paramref name="seconds"/>(i) then printing its token.</summary>
    public async Task<string> SubmitAsync(int tasks, Func<int, double> seconds, string pool = "default", Priority priority = Priority.Unspecified)
    {
        var spec = BuildJob(tasks, seconds, pool, out var tokens);
        spec.Priority = priority;
        var job = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;
        _jobs.Add((job.Id, tokens, TaskState.Succeeded));
        return job.Id;
    }

    /// <summary>Like <see cref="SubmitAsync"/>, but a refusal (broker down) is returned instead of thrown, and nothing is recorded.</summary>
    public async Task<(string? JobId, RpcException? Refused)> TrySubmitAsync(int tasks, Func<int, double> seconds, string pool = "default")
    {
        try
        {
            return (await SubmitAsync(tasks, seconds, pool), null);
        }
        catch (RpcException ex)
        {
            return (null, ex);
        }
    }

    /// <summary>Audits a job submitted some other way, expecting <paramref name="expected"/> and no output check.</summary>
    public void Track(string jobId, TaskState expected) => _jobs.Add((jobId, [], expected));

    public void Recovered(TimeSpan took)
    {
        if (took > _longestRecovery)
        {
            _longestRecovery = took;
        }
    }

    /// <summary>Waits for the job and records how long it took since <paramref name="since"/> as a recovery time.</summary>
    public async Task<Job> WaitRecoveredAsync(string jobId, Stopwatch since, TimeSpan timeout)
    {
        var job = await cluster.WaitForJobAsync(jobId, timeout);
        Recovered(since.Elapsed);
        return job;
    }

    public async Task<ChaosReport> AuditAsync(TimeSpan timeout)
    {
        int lost = 0, duplicated = 0, extra = 0;
        var problems = new List<string>();
        foreach (var (jobId, tokens, expected) in _jobs)
        {
            Job job;
            try
            {
                job = await cluster.WaitForJobAsync(jobId, timeout);
            }
            catch (Exception ex) when (ex is TimeoutException or RpcException)
            {
                lost++;
                problems.Add($"job {jobId}: {ex.Message}");
                continue;
            }

            extra += job.Tasks.Sum(t => Math.Max(0, t.Attempts.Count - 1));
            if (job.State != expected)
            {
                lost++;
                problems.Add($"job {jobId}: {job.State}, expected {expected}: {string.Join("; ", job.Tasks.Where(t => t.Error.Length > 0).Select(t => t.Error).Distinct())}");
                continue;
            }

            if (tokens.Length == 0)
            {
                continue;
            }

            var output = await cluster.OutputAsync(jobId);
            for (var i = 0; i < tokens.Length; i++)
            {
                var stdout = output.TryGetValue(i, out var streams) ? streams.Stdout : "";
                var count = Occurrences(stdout, tokens[i]);
                if (count == 0)
                {
                    lost++;
                    problems.Add($"job {jobId} task {i}: output missing");
                }
                else if (count > 1 || stdout != tokens[i] + "\n")
                {
                    duplicated++;
                    problems.Add($"job {jobId} task {i}: output {stdout.Length} bytes, token {count} times");
                }
            }
        }

        var report = new ChaosReport(scenario, rounds, _jobs.Count, lost, duplicated, extra, _longestRecovery);
        report.Write();
        Problems = problems;
        return report;
    }

    public IReadOnlyList<string> Problems { get; private set; } = [];

    public static JobSpec BuildJob(int tasks, Func<int, double> seconds, string pool, out string[] tokens)
    {
        var spec = new JobSpec { Pool = pool };
        tokens = new string[tasks];
        for (var i = 0; i < tasks; i++)
        {
            tokens[i] = $"token-{Guid.NewGuid():N}";
            spec.Tasks.Add(new TaskSpec
            {
                Command = new CommandSpec
                {
                    Program = "sh",
                    Args = { "-c", "sleep \"$1\"; echo \"$0\"", tokens[i], seconds(i).ToString("0.###", CultureInfo.InvariantCulture) },
                },
            });
        }

        return spec;
    }

    private static int Occurrences(string text, string token)
    {
        var count = 0;
        for (var at = text.IndexOf(token, StringComparison.Ordinal); at >= 0; at = text.IndexOf(token, at + token.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
