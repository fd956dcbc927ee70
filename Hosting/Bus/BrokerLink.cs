using MassTransit;

namespace DistributedExecutor.Hosting.Bus;

/// <summary>
/// Whether this process is connected to the broker, watched once a second. It logs one line when the link is lost
/// and one when it is back (how long it was down) instead of an error per reconnection attempt, and lets callers
/// refuse work at once, with a one-line reason, while the broker is away. While the bus reports itself down, the
/// broker's port is probed too: the bus's receive side reconnects on a backoff of its own, but a send reconnects
/// at once, so work is let through as soon as the broker answers again (<see cref="Usable"/>).
/// </summary>
internal sealed partial class BrokerLink(IBusControl bus, TimeProvider time, ILogger<BrokerLink> logger, string broker) : BackgroundService
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan StartGrace = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromMilliseconds(500);
    private volatile bool _up;
    private volatile bool _reachable;
    private DateTimeOffset _since;
    private TaskCompletionSource _change = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The broker as logs may name it: host and port, never the credentials.</summary>
    public static string Describe(Uri? rabbitMqUrl) =>
        rabbitMqUrl is null ? "in-memory" : BusExtensions.SplitCredentials(rabbitMqUrl).Host is var host ? $"{host.Host}:{host.Port}" : "";

    /// <summary>Connected, as of the last look.</summary>
    public bool Up => _up;

    /// <summary>Connected, or the broker's port answers (sends would reconnect): work may be tried.</summary>
    public bool Usable => _up || _reachable;

    /// <summary>Why work is refused while the link is down.</summary>
    public string Reason => _since == default
        ? $"not yet connected to the broker ({broker}); retrying every {Every.TotalSeconds:0} s"
        : $"the broker ({broker}) has been unreachable since {_since:HH:mm:ss}Z; retrying every {Every.TotalSeconds:0} s";

    /// <summary>True at once when <see cref="Usable"/>, else when it becomes so within <paramref name="wait"/>.</summary>
    public async Task<bool> WaitUsableAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + wait;
        while (true)
        {
            // The signal is taken before the test: a change between the two then completes the awaited one.
            var change = Volatile.Read(ref _change).Task;
            if (Usable)
            {
                return true;
            }

            var left = deadline - time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            try
            {
                await change.WaitAsync(left, time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return Usable;
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = time.GetUtcNow();
        bool? logged = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            var up = bus.CheckHealth().Status == BusHealthStatus.Healthy;
            var reachable = up || await AnswersAsync(stoppingToken).ConfigureAwait(false);
            var now = time.GetUtcNow();
            if (up != _up || reachable != _reachable)
            {
                _since = up || !_up ? _since : now;
                _up = up;
                _reachable = reachable;
                Interlocked.Exchange(ref _change, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }

            // One line per change; connecting takes a moment at start, so "down" is said only after a few seconds.
            if (logged != up && (up || logged == true || now - started >= StartGrace))
            {
                if (up)
                {
                    LogUp(broker, logged is null ? now - started : now - _since);
                }
                else
                {
                    LogDown(broker, Every.TotalSeconds);
                }

                logged = up;
            }

            await Task.Delay(Every, time, stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>Whether the broker's port accepts a connection now.</summary>
    private async Task<bool> AnswersAsync(CancellationToken cancellationToken)
    {
        var colon = broker.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(broker[(colon + 1)..], out var port))
        {
            return false;
        }

        try
        {
            using var probe = new System.Net.Sockets.TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ProbeTimeout);
            await probe.ConnectAsync(broker[..colon].Trim('[', ']'), port, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to the broker ({Broker}) after {Elapsed}")]
    private partial void LogUp(string broker, TimeSpan elapsed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the broker ({Broker}); reconnecting every {Seconds} s, work waits until it is back")]
    private partial void LogDown(string broker, double seconds);
}
