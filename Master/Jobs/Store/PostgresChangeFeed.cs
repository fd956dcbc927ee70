using System.Threading.Channels;
using Npgsql;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>
/// Tells the other masters on a PostgreSQL store which jobs changed here, and wakes this master's watchers when they
/// say so: PostgreSQL's LISTEN/NOTIFY on one channel, each notification "&lt;master&gt;|&lt;job id&gt;,&lt;job id&gt;…"
/// (a master ignores its own). Changes are sent after their write committed, batched as they come; a watcher on
/// another master then reads them from the store as it would here. Each time the listening connection is up, at start
/// and after it dropped, every watcher is woken (what was said before is lost, so each reads again from its offset).
/// </summary>
internal sealed class PostgresChangeFeed : IDisposable
{
    private const string Channel = "distexec_jobs";
    private const int MaxIdsPerNotification = 150; // 37 bytes each: well under NOTIFY's 8,000-byte payload

    private readonly NpgsqlDataSource _source;
    private readonly JobSignals _signals;
    private readonly string _instance;
    private readonly Channel<Guid> _changed = System.Threading.Channels.Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sender;
    private readonly Task _listener;

    public PostgresChangeFeed(NpgsqlDataSource source, JobSignals signals, string instance)
    {
        (_source, _signals, _instance) = (source, signals, instance);
        signals.Broadcast = id => _changed.Writer.TryWrite(id);
        _sender = Task.Run(SendAsync);
        _listener = Task.Run(ListenAsync);
    }

    private async Task SendAsync()
    {
        var batch = new HashSet<Guid>();
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _source.OpenConnectionAsync(_stop.Token).ConfigureAwait(false);
                await using var notify = new NpgsqlCommand("SELECT pg_notify(@channel, @payload)", connection);
                var payload = notify.Parameters.AddWithValue("payload", "");
                notify.Parameters.AddWithValue("channel", Channel);
                while (batch.Count > 0 || await _changed.Reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
                {
                    while (batch.Count < MaxIdsPerNotification && _changed.Reader.TryRead(out var id))
                    {
                        batch.Add(id);
                    }

                    payload.Value = _instance + "|" + string.Join(',', batch.Select(StoreSql.Id));
                    await notify.ExecuteNonQueryAsync(_stop.Token).ConfigureAwait(false);
                    batch.Clear();
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException && !_stop.IsCancellationRequested)
            {
                // The connection was dropped (found out by this send): the batch is sent again on a new one.
                await Delay().ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ListenAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _source.OpenConnectionAsync(_stop.Token).ConfigureAwait(false);
                connection.Notification += (_, e) => OnNotification(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(_stop.Token).ConfigureAwait(false);
                }

                // Listening now: what was said before (at start, or while the connection was down) is lost, so every
                // watcher reads again from its offset. At start this includes a watcher that began before the first
                // LISTEN took effect, whose change another master announced in between.
                _signals.NotifyAll();
                while (true)
                {
                    await connection.WaitAsync(_stop.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException or IOException && !_stop.IsCancellationRequested)
            {
                await Delay().ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void OnNotification(string payload)
    {
        var bar = payload.IndexOf('|', StringComparison.Ordinal);
        if (bar < 0 || payload.AsSpan(0, bar).SequenceEqual(_instance))
        {
            return;
        }

        foreach (var id in payload[(bar + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (Guid.TryParse(id, out var jobId))
            {
                _signals.NotifyLocal(jobId);
            }
        }
    }

    private async Task Delay()
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Dispose()
    {
        _signals.Broadcast = null;
        _stop.Cancel();
        _changed.Writer.TryComplete();
        Task.WaitAll([_sender, _listener], TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}
