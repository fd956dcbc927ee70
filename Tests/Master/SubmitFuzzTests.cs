using System.Collections.Concurrent;
using System.Text;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace DistributedExecutor.Tests.Master;

/// <summary>
/// Ten thousand random mutations of valid SubmitJob requests, structured and at the byte level, against a running
/// master: never INTERNAL or UNKNOWN, never a crash, and exactly the accepted jobs end up in the store.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SubmitFuzzTests(SubmitFuzzTests.Fixture fixture, ITestOutputHelper output) : IClassFixture<SubmitFuzzTests.Fixture>
{
    private const int Iterations = 10_000;

    private static readonly string[] Hostile =
    [
        "", " ", "echo", "true", "rm", "/bin/rm", "/bin/../bin/rm", "./rm", "..", "/", "~", "$(id)", "; rm -rf /", "a\0b", "\uFFFD",
        "\u202e", "é", "日本語", "\r\n", "%00", "http://169.254.169.254/", "http://127.0.0.1:9/", "file:///etc/passwd", "../../../../etc/shadow",
        "-", "--", "=", "A=B", "PATH", "LD_PRELOAD", "/tmp", "default", "fuzz", "FUZZ", "a-b_c", new string('x', 70), new string('y', 5000),
    ];

    [Fact]
    public async Task SubmitJob_TenThousandMutations_NeverInternalNeverCrash()
    {
        var random = new Random(20261127);
        var seeds = Enumerable.Range(0, Iterations).Select(_ => random.Next()).ToArray();
        var statuses = new ConcurrentDictionary<StatusCode, int>();
        var failures = new ConcurrentQueue<string>();
        var accepted = 0;
        using var channel = GrpcChannel.ForAddress($"http://{fixture.Cluster.MasterAddress}", new GrpcChannelOptions { MaxSendMessageSize = null });
        var client = new JobService.JobServiceClient(channel);
        var raw = channel.CreateCallInvoker();
        var bytes = Marshallers.Create<byte[]>(b => b, b => b);
        var submitRaw = new Method<byte[], byte[]>(MethodType.Unary, "distexec.v1.JobService", "SubmitJob", bytes, bytes);

        await Parallel.ForEachAsync(seeds, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (seed, ct) =>
        {
            var rng = new Random(seed);
            var request = Mutate(rng);
            var code = StatusCode.OK;
            string detail = "";
            try
            {
                if (rng.Next(10) == 0)
                {
                    // Byte-level: flip, cut or splice the encoded request.
                    await raw.AsyncUnaryCall(submitRaw, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(60)), Corrupt(rng, request.ToByteArray()));
                }
                else
                {
                    await client.SubmitJobAsync(request, deadline: DateTime.UtcNow.AddSeconds(60), cancellationToken: ct);
                }

                Interlocked.Increment(ref accepted);
            }
            catch (RpcException ex)
            {
                code = ex.StatusCode;
                detail = ex.Status.Detail;
            }

            statuses.AddOrUpdate(code, 1, (_, n) => n + 1);
            if (code is StatusCode.Internal or StatusCode.Unknown or StatusCode.DeadlineExceeded or StatusCode.Unavailable)
            {
                failures.Enqueue($"seed {seed}: {code} {detail}");
            }
        });

        output.WriteLine(string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}={s.Value}")));
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(20)));
        Assert.Equal(Iterations, statuses.Values.Sum());
        Assert.True(statuses.GetValueOrDefault(StatusCode.InvalidArgument) > 1000, "the mutations should mostly be refused");
        Assert.True(accepted > 100, "some mutations should still be valid");
        Assert.False(fixture.Cluster.Master!.HasExited);
        Assert.Equal(accepted, fixture.Cluster.StoredJobs(acceptedOnly: true));

        var alive = await fixture.Cluster.DistctlAsync("run", "--wait", "--pool", "live", "--", "echo", "alive");
        Assert.True(alive.ExitCode == 0, alive + fixture.Cluster.Logs());
    }

    private static SubmitJobRequest Mutate(Random rng)
    {
        var task = rng.Next(3) switch
        {
            0 => new TaskSpec { Http = new HttpSpec { Url = "http://127.0.0.1:9/", Method = "GET" } },
            _ => new TaskSpec { Command = new CommandSpec { Program = "echo", Args = { "hello" } } },
        };
        var spec = new JobSpec { Pool = "fuzz" };
        spec.Tasks.Add(task);
        var mutations = rng.Next(1, 5);
        for (var m = 0; m < mutations; m++)
        {
            var target = spec.Tasks.Count > 0 ? spec.Tasks[rng.Next(spec.Tasks.Count)] : null;
            switch (rng.Next(20))
            {
                case 0:
                    spec.Pool = rng.Next(3) == 0 ? Text(rng) : Pick(rng, ["fuzz", "", "FUZZ", "../x", new string('p', 64), "fuzz\0"]);
                    if (spec.Pool.Length == 0)
                    {
                        spec.Pool = "fuzz";
                    }

                    break;
                case 1:
                    // Either a few tasks, or more than MAX_TASKS_PER_JOB of a small one (refused before anything is stored).
                    var template = spec.Tasks.FirstOrDefault() ?? task;
                    var copies = rng.Next(4) == 0 && template.CalculateSize() < 1024 ? rng.Next(1001, 1500) : rng.Next(0, 5);
                    spec.Tasks.Clear();
                    spec.Tasks.AddRange(Enumerable.Range(0, copies).Select(_ => template.Clone()));
                    break;
                case 2:
                    if (target is not null)
                    {
                        target.Timeout = new Duration { Seconds = rng.Next(4) == 0 ? rng.NextInt64(long.MinValue, long.MaxValue) : rng.Next(-10, 5000), Nanos = rng.Next(3) == 0 ? rng.Next(int.MinValue, int.MaxValue) : 0 };
                    }

                    break;
                case 3:
                    target?.ClearExecutor();
                    break;
                case 4:
                    if (target is not null)
                    {
                        target.Plugin = new PluginSpec { Executor = Text(rng), Parameters = { [Text(rng)] = Text(rng) } };
                    }

                    break;
                default:
                    MutateExecutor(rng, target);
                    break;
            }
        }

        // Keep each request within what a client could send (the server takes up to 64 MiB).
        while (spec.Tasks.Count > 1 && spec.CalculateSize() > 16 * 1024 * 1024)
        {
            spec.Tasks.RemoveAt(spec.Tasks.Count - 1);
        }

        return new SubmitJobRequest { Spec = rng.Next(200) == 0 ? null : spec };
    }

    private static void MutateExecutor(Random rng, TaskSpec? task)
    {
        if (task?.Command is { } command)
        {
            switch (rng.Next(6))
            {
                case 0: command.Program = Text(rng); break;
                case 1: command.Args.AddRange(Enumerable.Range(0, rng.Next(4) == 0 ? rng.Next(4000, 5000) : rng.Next(1, 8)).Select(_ => Text(rng))); break;
                case 2: command.Env[Text(rng)] = Text(rng); break;
                case 3: command.WorkingDir = Text(rng); break;
                case 4: command.Args.Add(new string('a', rng.Next(100_000, 1_200_000))); break;
                default: command.Program = Pick(rng, ["rm", "/bin/rm", "/bin/../bin/rm", "//usr/bin/rm", "sh", "/bin/sh", "true"]); break;
            }
        }
        else if (task?.Http is { } http)
        {
            switch (rng.Next(8))
            {
                case 0: http.Url = Text(rng); break;
                case 1: http.Url = Pick(rng, ["http://169.254.169.254/", "http://[::ffff:a9fe:a9fe]/", "http://0.0.0.0/", "ftp://x/", "http://u:p@h/", "http://[::1]:9/", "https://localhost/"]); break;
                case 2: http.Method = Text(rng); break;
                case 3: http.Headers[Text(rng)] = Text(rng); break;
                case 4: http.ExpectedStatus.Add(new StatusRange { Min = rng.Next(-1000, 1000), Max = rng.Next(-1000, 1000) }); break;
                case 5: http.ResponseCapBytes = rng.NextInt64(long.MinValue, long.MaxValue); break;
                case 6: http.MaxRetries = rng.Next(int.MinValue, int.MaxValue); break;
                default: http.Body = ByteString.CopyFrom(new byte[rng.Next(4) == 0 ? rng.Next(4_000_000, 5_000_000) : rng.Next(0, 100)]); break;
            }
        }
    }

    private static byte[] Corrupt(Random rng, byte[] encoded)
    {
        var data = encoded.ToList();
        var edits = rng.Next(1, 6);
        for (var i = 0; i < edits && data.Count > 0; i++)
        {
            switch (rng.Next(4))
            {
                case 0: data[rng.Next(data.Count)] = (byte)rng.Next(256); break;
                case 1: data.RemoveRange(rng.Next(data.Count), 1); break;
                case 2: data.Insert(rng.Next(data.Count), (byte)rng.Next(256)); break;
                default:
                    var cut = rng.Next(data.Count);
                    data.RemoveRange(cut, data.Count - cut);
                    break;
            }
        }

        return [.. data];
    }

    private static string Text(Random rng)
    {
        if (rng.Next(2) == 0)
        {
            return Pick(rng, Hostile);
        }

        var builder = new StringBuilder();
        var length = rng.Next(0, 40);
        for (var i = 0; i < length; i++)
        {
            // Any code point but lone surrogates (those cannot be encoded as UTF-8 by the client).
            var c = rng.Next(4) switch
            {
                0 => (char)rng.Next(0, 32),
                1 => (char)rng.Next(32, 127),
                2 => (char)rng.Next(0xA0, 0xD7FF),
                _ => (char)rng.Next(0xE000, 0xFFFE),
            };
            builder.Append(c);
        }

        return builder.ToString();
    }

    private static string Pick(Random rng, string[] values) => values[rng.Next(values.Length)];

    /// <summary>A master whose fuzzed jobs go to pools with no worker (they wait, nothing runs), and one live worker elsewhere.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        public Cluster Cluster { get; private set; } = null!;

        public async Task InitializeAsync() =>
            Cluster = await Cluster.StartAsync(workers: 1, new Dictionary<string, string>
            {
                ["EXECUTOR_COMMAND_BLOCKED"] = "rm",
                ["MAX_TASKS_PER_JOB"] = "1000",
                ["MAX_CONCURRENT_JOBS"] = "1000000",
            }, pool: "live");

        public async Task DisposeAsync() => await Cluster.DisposeAsync();
    }
}
