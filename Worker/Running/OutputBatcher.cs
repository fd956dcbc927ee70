using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Hosting.Telemetry;

namespace DistributedExecutor.Worker.Running;

/// <summary>
/// Collects an attempt's output and publishes it in numbered batches: every <see cref="FlushInterval"/> or
/// when enough is waiting, so output is live without a message per line. Each stream keeps at most the cap:
/// its first half is published live, then only the most recent half is held (a ring buffer, so memory stays
/// bounded whatever the process writes); at the end a marker says how much was cut and the tail follows.
/// </summary>
internal sealed class OutputBatcher : IOutputSink, IAsyncDisposable
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(50);
    private const int FlushBytes = 64 * 1024;

    /// <summary>The most output an attempt's end carries itself instead of a TaskOutput of its own.</summary>
    public const int CarryBytes = 64 * 1024;
    private const int MaxUnsentBytes = 1024 * 1024;

    private readonly Func<TaskOutput, Task> _publish;
    private readonly Guid _jobId;
    private readonly Guid _taskId;
    private readonly Guid _attemptId;
    private readonly long _capBytes;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _flushGate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly long _headCap;
    private readonly int _tailCap;
    private readonly long[] _head = new long[3];
    private readonly TailBuffer?[] _tails = new TailBuffer?[3];
    private readonly Timer _firstTick;
    private Task? _loop;
    private bool _ended;
    private List<OutputChunkData> _pending = [];
    private MemoryStream? _current;
    private OutputStreamKind _currentStream;
    private DateTimeOffset _currentAt;
    private int _pendingBytes;
    private long _sequence;
    private TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public OutputBatcher(Func<TaskOutput, Task> publish, Guid jobId, Guid taskId, Guid attemptId, long capBytes)
    {
        _publish = publish;
        _jobId = jobId;
        _taskId = taskId;
        _attemptId = attemptId;
        _capBytes = capBytes;
        _tailCap = (int)Math.Min(capBytes / 2, int.MaxValue);
        _headCap = capBytes - _tailCap;
        // The flush loop starts only once the attempt has run a flush interval (or has a flush's worth waiting): a
        // short task ends before that, its output carried by its end, and never needs it (nor the thread-pool hand-offs
        // and timer a loop per attempt cost the worker).
        _firstTick = new Timer(_ => StartLoop(), null, FlushInterval, Timeout.InfiniteTimeSpan);
    }

    /// <summary>True when some stream wrote more than the cap and its middle was cut.</summary>
    public bool Truncated
    {
        get
        {
            lock (_lock)
            {
                return _tails.Any(t => t is { Dropped: > 0 });
            }
        }
    }

    /// <summary>Batches published so far.</summary>
    public long Batches => Interlocked.Read(ref _sequence);

    public async ValueTask WriteAsync(OutputStreamKind stream, ReadOnlyMemory<byte> data)
    {
        Task? wait = null;
        lock (_lock)
        {
            var index = (int)stream;
            var room = Math.Max(0, _headCap - _head[index]);
            var keep = (int)Math.Min(room, data.Length);
            if (keep > 0)
            {
                Append(stream, data.Span[..keep]);
                _head[index] += keep;
            }

            if (keep < data.Length)
            {
                // Past the head: only the latest bytes are held, published (after a marker) when the task ends.
                (_tails[index] ??= new TailBuffer(_tailCap)).Write(data.Span[keep..]);
            }

            if (_pendingBytes >= FlushBytes)
            {
                _wake.TrySetResult();
                StartLoopLocked();
            }

            if (_pendingBytes >= MaxUnsentBytes)
            {
                wait = _drained.Task;
            }
        }

        if (wait is not null)
        {
            await wait.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Publishes what is left (with each stream's tail); afterwards <see cref="Batches"/> is final. When what is
    /// left is at most <paramref name="carryUpTo"/> bytes it is returned instead of published, numbered as the
    /// next batch, for the caller to send with the attempt's end (one message less per short task).
    /// </summary>
    public async Task<TaskOutput?> CompleteAsync(int carryUpTo = 0)
    {
        await _firstTick.DisposeAsync().ConfigureAwait(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        lock (_lock)
        {
            foreach (var stream in (OutputStreamKind[])[OutputStreamKind.Stdout, OutputStreamKind.Stderr])
            {
                if (_tails[(int)stream] is not { } tail)
                {
                    continue;
                }

                if (tail.Dropped > 0)
                {
                    var name = stream.ToString().ToLowerInvariant();
                    Append(stream, System.Text.Encoding.UTF8.GetBytes(
                        $"\n[distexec: {tail.Dropped} bytes of {name} cut here; kept the first {_head[(int)stream]} and the last {tail.Length} bytes (cap {_capBytes})]\n"));
                }

                Append(stream, tail.ToArray());
            }

            _wake.TrySetResult();
        }

        await EndLoopAsync().ConfigureAwait(false);
        if (carryUpTo > 0)
        {
            lock (_lock)
            {
                SealCurrent();
                if (_pendingBytes <= carryUpTo)
                {
                    var last = _pending;
                    _pending = [];
                    _pendingBytes = 0;
                    _drained.TrySetResult();
                    return last.Count == 0 ? null : new TaskOutput(_jobId, _taskId, _attemptId, Interlocked.Increment(ref _sequence) - 1, last);
                }
            }
        }

        await FlushAsync().ConfigureAwait(false);
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _firstTick.DisposeAsync().ConfigureAwait(false);
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            lock (_lock)
            {
                _wake.TrySetResult();
            }
        }

        await EndLoopAsync().ConfigureAwait(false);
        _stop.Dispose();
        _flushGate.Dispose();
    }

    private void StartLoop()
    {
        lock (_lock)
        {
            StartLoopLocked();
        }
    }

    /// <summary>Starts the flush loop unless it runs already or the attempt ended; under the lock.</summary>
    private void StartLoopLocked()
    {
        if (_loop is null && !_ended)
        {
            _loop = Task.Run(RunAsync);
        }
    }

    /// <summary>No loop starts from now on; waits for the one that did, if any.</summary>
    private Task EndLoopAsync()
    {
        lock (_lock)
        {
            _ended = true;
            return _loop ?? Task.CompletedTask;
        }
    }

    private void Append(OutputStreamKind stream, ReadOnlySpan<byte> bytes)
    {
        if (_current is null || _currentStream != stream)
        {
            SealCurrent();
            _current = new MemoryStream();
            _currentStream = stream;
            _currentAt = DateTimeOffset.UtcNow;
        }

        _current.Write(bytes);
        _pendingBytes += bytes.Length;
    }

    private void SealCurrent()
    {
        if (_current is { Length: > 0 })
        {
            _pending.Add(new OutputChunkData(_currentStream, _current.ToArray(), _currentAt));
        }

        _current = null;
    }

    private async Task RunAsync()
    {
        // Started a flush interval in (or with a flush's worth waiting): the first flush is due now.
        var due = true;
        while (!_stop.IsCancellationRequested)
        {
            if (!due)
            {
                Task wake;
                lock (_lock)
                {
                    wake = _wake.Task;
                }

                await Task.WhenAny(wake, Task.Delay(FlushInterval, _stop.Token)).ConfigureAwait(false);
            }

            due = false;
            if (_stop.IsCancellationRequested)
            {
                // The attempt ended: what is left is CompleteAsync's, which carries a short task's output on its
                // TaskFinished. A flush here would send it as a batch of its own, and with it the TaskStarted.
                return;
            }

            try
            {
                await FlushAsync().ConfigureAwait(false);
            }
            catch (Exception) when (!_stop.IsCancellationRequested)
            {
                // The batch went back to the front; the next tick tries again.
            }
        }
    }

    private async Task FlushAsync()
    {
        await _flushGate.WaitAsync().ConfigureAwait(false);
        try
        {
            List<OutputChunkData> batch;
            TaskCompletionSource drained;
            lock (_lock)
            {
                SealCurrent();
                batch = _pending;
                _pending = [];
                _pendingBytes = 0;
                drained = _drained;
                _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_wake.Task.IsCompleted)
                {
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }

            if (batch.Count > 0)
            {
                var sequence = Interlocked.Read(ref _sequence);
                try
                {
                    await _publish(new TaskOutput(_jobId, _taskId, _attemptId, sequence, batch)).ConfigureAwait(false);
                }
                catch
                {
                    lock (_lock)
                    {
                        _pending.InsertRange(0, batch);
                        _pendingBytes += batch.Sum(c => c.Data.Length);
                        _drained = drained;
                    }

                    throw;
                }

                Interlocked.Increment(ref _sequence);
            }

            drained.TrySetResult();
        }
        finally
        {
            _flushGate.Release();
        }
    }

    /// <summary>The last <c>capacity</c> bytes written, and how many earlier ones were let go.</summary>
    private sealed class TailBuffer(int capacity)
    {
        private readonly byte[] _buffer = new byte[capacity];
        private int _start;

        public int Length { get; private set; }

        public long Dropped { get; private set; }

        public void Write(ReadOnlySpan<byte> data)
        {
            if (capacity == 0)
            {
                Dropped += data.Length;
                return;
            }

            if (data.Length >= capacity)
            {
                Dropped += Length + data.Length - capacity;
                data[^capacity..].CopyTo(_buffer);
                _start = 0;
                Length = capacity;
                return;
            }

            var overflow = Math.Max(0, Length + data.Length - capacity);
            Dropped += overflow;
            _start = (_start + overflow) % capacity;
            Length -= overflow;
            var end = (_start + Length) % capacity;
            var first = Math.Min(data.Length, capacity - end);
            data[..first].CopyTo(_buffer.AsSpan(end));
            data[first..].CopyTo(_buffer);
            Length += data.Length;
        }

        public byte[] ToArray()
        {
            var result = new byte[Length];
            var first = Math.Min(Length, capacity - _start);
            _buffer.AsSpan(_start, first).CopyTo(result);
            _buffer.AsSpan(0, Length - first).CopyTo(result.AsSpan(first));
            return result;
        }
    }
}
