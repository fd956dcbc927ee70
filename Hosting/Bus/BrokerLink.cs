using MassTransit;

namespace DistributedExecutor.Hosting.Bus;

/// <summary>
/// Whether this process is connected to the broker, watched once a second. It logs one line when the link is lost
/// and one when it is back (how long it was down) instead of an error per reconnection attempt, and lets callers
/// refuse work at once, with a one-line reason, while the broker is away.
/// </summary>
internal sealed partial class BrokerLink(IBusControl bus, TimeProvider time, ILogger<BrokerLink> logger, string broker) : BackgroundService
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan StartGrace = TimeSpan.FromSeconds(5);
    private volatile bool _up;
    private DateTimeOffset _since;
    private TaskCompletionSource _change = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The broker as logs may name it: host and port, never the credentials.</summary>
    public static string Describe(Uri? rabbitMqUrl) =>
        rabbitMqUrl is null ? "in-memory" : BusExtensions.SplitCredentials(rabbitMqUrl).Host is var host ? $"{host.Host}:{host.Port}" : "";

    /// <summary>Connected, as of the last look.</summary>
    public bool Up => _up;

    /// <summary>Why work is refused while the link is down.</summary>
    public string Reason => _since == default
        ? $"not yet connected to the broker ({broker}); retrying every {Every.TotalSeconds:0} s"
        : $"the broker ({broker}) has been unreachable since {_since:HH:mm:ss}Z; retrying every {Every.TotalSeconds:0} s";

    /// <summary>True at once when connected, else after it connects within <paramref name="wait"/>.</summary>
    public async Task<bool> WaitUpAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + wait;
        while (!_up)
        {
            var left = deadline - time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            try
            {
                await Volatile.Read(ref _change).Task.WaitAsync(left, time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return _up;
            }
        }

        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = time.GetUtcNow();
        bool? logged = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            var up = bus.CheckHealth().Status == BusHealthStatus.Healthy;
            var now = time.GetUtcNow();
            if (up != _up)
            {
                _since = up ? _since : now;
                _up = up;
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to the broker ({Broker}) after {Elapsed}")]
    private partial void LogUp(string broker, TimeSpan elapsed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the broker ({Broker}); reconnecting every {Seconds} s, work waits until it is back")]
    private partial void LogDown(string broker, double seconds);
}
