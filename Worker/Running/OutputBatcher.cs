using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Worker.Executors;
using MassTransit;

namespace DistributedExecutor.Worker.Running;

/// <summary>
/// Collects an attempt's output and publishes it in numbered batches: every <see cref="FlushInterval"/> or
/// when enough is waiting, so output is live without a message per line. Each stream keeps at most the cap;
/// past it a marker says how much was cut and the rest is counted, not kept.
/// </summary>
internal sealed class OutputBatcher : IOutputSink, IAsyncDisposable
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(50);
    private const int FlushBytes = 64 * 1024;
    private const int MaxUnsentBytes = 1024 * 1024;

    private readonly IPublishEndpoint _publish;
    private readonly Guid _jobId;
    private readonly Guid _taskId;
    private readonly Guid _attemptId;
    private readonly long _capBytes;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _flushGate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly long[] _kept = new long[3];
    private readonly long[] _dropped = new long[3];
    private readonly Task _loop;
    private List<OutputChunkData> _pending = [];
    private MemoryStream? _current;
    private OutputStreamKind _currentStream;
    private int _pendingBytes;
    private long _sequence;
    private TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public OutputBatcher(IPublishEndpoint publish, Guid jobId, Guid taskId, Guid attemptId, long capBytes)
    {
        _publish = publish;
        _jobId = jobId;
        _taskId = taskId;
        _attemptId = attemptId;
        _capBytes = capBytes;
        _loop = Task.Run(RunAsync);
    }

    public bool Truncated => _dropped[1] > 0 || _dropped[2] > 0;

    /// <summary>Batches published so far.</summary>
    public long Batches => Interlocked.Read(ref _sequence);

    public async ValueTask WriteAsync(OutputStreamKind stream, ReadOnlyMemory<byte> data)
    {
        Task? wait = null;
        lock (_lock)
        {
            var index = (int)stream;
            var room = Math.Max(0, _capBytes - _kept[index]);
            var keep = (int)Math.Min(room, data.Length);
            if (keep > 0)
            {
                Append(stream, data.Span[..keep]);
                _kept[index] += keep;
            }

            if (keep < data.Length)
            {
                if (_dropped[index] == 0)
                {
                    Append(stream, System.Text.Encoding.UTF8.GetBytes($"\n[distexec: {stream.ToString().ToLowerInvariant()} cut at {_capBytes} bytes; the rest is discarded]\n"));
                }

                _dropped[index] += data.Length - keep;
            }

            if (_pendingBytes >= FlushBytes)
            {
                _wake.TrySetResult();
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

    /// <summary>Publishes what is left; afterwards <see cref="Batches"/> is final.</summary>
    public async Task CompleteAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        lock (_lock)
        {
            _wake.TrySetResult();
        }

        await _loop.ConfigureAwait(false);
        await FlushAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            lock (_lock)
            {
                _wake.TrySetResult();
            }
        }

        await _loop.ConfigureAwait(false);
        _stop.Dispose();
        _flushGate.Dispose();
    }

    private void Append(OutputStreamKind stream, ReadOnlySpan<byte> bytes)
    {
        if (_current is null || _currentStream != stream)
        {
            SealCurrent();
            _current = new MemoryStream();
            _currentStream = stream;
        }

        _current.Write(bytes);
        _pendingBytes += bytes.Length;
    }

    private void SealCurrent()
    {
        if (_current is { Length: > 0 })
        {
            _pending.Add(new OutputChunkData(_currentStream, _current.ToArray()));
        }

        _current = null;
    }

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Task wake;
            lock (_lock)
            {
                wake = _wake.Task;
            }

            try
            {
                await Task.WhenAny(wake, Task.Delay(FlushInterval, _stop.Token)).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
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
                    await _publish.Publish(new TaskOutput(_jobId, _taskId, _attemptId, sequence, batch), CancellationToken.None).ConfigureAwait(false);
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
}
