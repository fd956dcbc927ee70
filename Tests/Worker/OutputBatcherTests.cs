using System.Text;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Tests.Fixtures;
using DistributedExecutor.Worker.Running;

namespace DistributedExecutor.Tests.Worker;

public sealed class OutputBatcherTests
{
    [Fact]
    public async Task Write_UnderCap_EverythingKeptInOrderNotTruncated()
    {
        var published = new List<TaskOutput>();
        var batcher = new OutputBatcher(Record(published), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), capBytes: 1024);
        await using (batcher)
        {
            for (var i = 0; i < 100; i++)
            {
                await batcher.WriteAsync(OutputStreamKind.Stdout, Encoding.UTF8.GetBytes($"{i},"));
            }

            await batcher.CompleteAsync();
        }

        Assert.False(batcher.Truncated);
        Assert.Equal(string.Concat(Enumerable.Range(0, 100).Select(i => $"{i},")), Text(published, OutputStreamKind.Stdout));
        Assert.Equal(Enumerable.Range(0, published.Count).Select(i => (long)i), published.Select(p => p.Sequence));
    }

    [Fact]
    public async Task Write_PastCap_KeepsHeadAndTailWithMarkerPerStream()
    {
        var published = new List<TaskOutput>();
        var batcher = new OutputBatcher(Record(published), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), capBytes: 1000);
        await using (batcher)
        {
            // 10,000 numbered 10-byte records on stdout, written in uneven pieces so the ring wraps at odd places.
            var all = string.Concat(Enumerable.Range(0, 10_000).Select(i => $"{i,9}\n"));
            var bytes = Encoding.ASCII.GetBytes(all);
            var at = 0;
            var size = 1;
            while (at < bytes.Length)
            {
                var n = Math.Min(size, bytes.Length - at);
                await batcher.WriteAsync(OutputStreamKind.Stdout, bytes.AsMemory(at, n));
                at += n;
                size = size * 7 % 311 + 1;
            }

            await batcher.WriteAsync(OutputStreamKind.Stderr, Encoding.ASCII.GetBytes("small stderr\n"));
            await batcher.CompleteAsync();
        }

        Assert.True(batcher.Truncated);
        var stdout = Text(published, OutputStreamKind.Stdout);
        var all2 = string.Concat(Enumerable.Range(0, 10_000).Select(i => $"{i,9}\n"));
        Assert.StartsWith(all2[..500], stdout, StringComparison.Ordinal);
        Assert.EndsWith(all2[^500..], stdout, StringComparison.Ordinal);
        Assert.Contains($"[distexec: {all2.Length - 1000} bytes of stdout cut here", stdout, StringComparison.Ordinal);
        Assert.Equal("small stderr\n", Text(published, OutputStreamKind.Stderr));
    }

    [Fact]
    public async Task Write_JustOverHead_TailFitsSoNothingIsCut()
    {
        var published = new List<TaskOutput>();
        var batcher = new OutputBatcher(Record(published), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), capBytes: 100);
        await using (batcher)
        {
            await batcher.WriteAsync(OutputStreamKind.Stderr, new byte[80].Select((_, i) => (byte)('a' + (i % 26))).ToArray());
            await batcher.CompleteAsync();
        }

        Assert.False(batcher.Truncated);
        Assert.Equal(80, Text(published, OutputStreamKind.Stderr).Length);
    }

    [Fact]
    public async Task Complete_WithinTheFlushInterval_SmallOutputIsCarriedNotPublished()
    {
        // A short task's output rides on its TaskFinished: completing must not first flush it as a batch of its own
        // (that batch would also make its TaskStarted go out: three messages where one does). Many rounds, because the
        // flush loop and the completion race.
        for (var round = 0; round < 200; round++)
        {
            var published = new List<TaskOutput>();
            var batcher = new OutputBatcher(Record(published), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), capBytes: 1024);
            TaskOutput? carried;
            await using (batcher)
            {
                await batcher.WriteAsync(OutputStreamKind.Stdout, Encoding.UTF8.GetBytes($"{round}\n"));
                carried = await batcher.CompleteAsync(OutputBatcher.CarryBytes);
            }

            Assert.True(published.Count == 0, $"round {round}: {published.Count} batch(es) published before the end, where the end carries them");
            Assert.NotNull(carried);
            Assert.Equal(0, carried.Sequence);
            Assert.Equal($"{round}\n", Encoding.UTF8.GetString(carried.Chunks.Single().Data));
            Assert.Equal(1, batcher.Batches);
        }
    }

    [Fact]
    public async Task Write_WhileTheTaskRuns_PublishedLiveAboutAFlushIntervalIn()
    {
        // The flush loop starts only a flush interval into the attempt: output of a task that runs on is still live.
        var published = new List<TaskOutput>();
        var batcher = new OutputBatcher(Record(published), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), capBytes: 1024);
        await using (batcher)
        {
            await batcher.WriteAsync(OutputStreamKind.Stdout, "first\n"u8.ToArray());
            await Eventually.Until(() => Count(published) == 1, TimeSpan.FromSeconds(10), "the first line published while the task runs");
            await batcher.WriteAsync(OutputStreamKind.Stdout, "second\n"u8.ToArray());
            await Eventually.Until(() => Count(published) == 2, TimeSpan.FromSeconds(10), "the second line published by the running loop");
            Assert.Null(await batcher.CompleteAsync(OutputBatcher.CarryBytes));
        }

        Assert.Equal("first\nsecond\n", Text(published, OutputStreamKind.Stdout));
        Assert.Equal([0L, 1L], published.Select(p => p.Sequence));
    }

    [Fact]
    public async Task Write_AFlushWorthAtOnce_PublishedWhileTheTaskRuns()
    {
        // Enough waiting starts the loop at once (else it starts a flush interval in): all of it published before the end.
        var published = new List<TaskOutput>();
        var gate = new TaskCompletionSource();
        var batcher = new OutputBatcher(async output =>
        {
            lock (published)
            {
                published.Add(output);
            }

            gate.TrySetResult();
            await Task.CompletedTask;
        }, Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), capBytes: 1024 * 1024);
        await using (batcher)
        {
            await batcher.WriteAsync(OutputStreamKind.Stdout, new byte[100 * 1024]);
            await gate.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await batcher.CompleteAsync(OutputBatcher.CarryBytes);
        }

        Assert.Equal(100 * 1024, published.Sum(p => p.Chunks.Sum(c => c.Data.Length)));
    }

    private static int Count(List<TaskOutput> published)
    {
        lock (published)
        {
            return published.Count;
        }
    }

    private static Func<TaskOutput, Task> Record(List<TaskOutput> published) => output =>
    {
        lock (published)
        {
            published.Add(output);
        }

        return Task.CompletedTask;
    };

    private static string Text(List<TaskOutput> published, OutputStreamKind stream) =>
        Encoding.UTF8.GetString(published.OrderBy(p => p.Sequence).SelectMany(p => p.Chunks).Where(c => c.Stream == stream).SelectMany(c => c.Data).ToArray());
}
