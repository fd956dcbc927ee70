using System.Net;
using System.Net.Sockets;

namespace DistributedExecutor.Tests.Fixtures;

/// <summary>
/// What a Kubernetes Service is to several masters, on loopback: one address whose each new connection goes to the
/// next backend that accepts it (round robin, skipping those that refuse). A backend that dies breaks the connections
/// it had; clients reconnect and land on another.
/// </summary>
public sealed class TcpFront : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IReadOnlyList<IPEndPoint> _backends;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _next;
    private int _accepted;

    private TcpFront(IReadOnlyList<IPEndPoint> backends, int port)
    {
        _backends = backends;
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary>Connections clients have made to the front so far, served or not.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>host:port to reach the backends through.</summary>
    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>A front over backends given as "127.0.0.1:port", on <paramref name="port"/> (default: a free one).</summary>
    public static TcpFront Start(IEnumerable<string> backends, int? port = null) => new([.. backends.Select(IPEndPoint.Parse)], port ?? FreePort.Next());

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            var start = Interlocked.Increment(ref _next);
            for (var i = 0; i < _backends.Count; i++)
            {
                var backend = new TcpClient();
                try
                {
                    using var connect = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    connect.CancelAfter(TimeSpan.FromSeconds(1));
                    await backend.ConnectAsync(_backends[(start + i) % _backends.Count], connect.Token);
                }
                catch (Exception ex) when (ex is SocketException or OperationCanceledException)
                {
                    backend.Dispose();
                    continue;
                }

                using (backend)
                {
                    client.NoDelay = backend.NoDelay = true;
                    using var done = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    var up = Pipe(client.GetStream(), backend.GetStream(), done.Token);
                    var down = Pipe(backend.GetStream(), client.GetStream(), done.Token);
                    await Task.WhenAny(up, down);
                    await done.CancelAsync();
                }

                return;
            }
        }
    }

    private static async Task Pipe(NetworkStream from, NetworkStream to, CancellationToken cancellationToken)
    {
        try
        {
            await from.CopyToAsync(to, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Either end went away: the other is closed with it.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
