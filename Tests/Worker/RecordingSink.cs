using System.Text;
using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Hosting.Telemetry;

namespace DistributedExecutor.Tests.Worker;

/// <summary>Keeps what an executor wrote, per stream.</summary>
internal sealed class RecordingSink : IOutputSink
{
    private readonly Lock _lock = new();
    private readonly MemoryStream _stdout = new();
    private readonly MemoryStream _stderr = new();

    public string Stdout
    {
        get
        {
            lock (_lock)
            {
                return Encoding.UTF8.GetString(_stdout.ToArray());
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_lock)
            {
                return Encoding.UTF8.GetString(_stderr.ToArray());
            }
        }
    }

    public ValueTask WriteAsync(OutputStreamKind stream, ReadOnlyMemory<byte> data)
    {
        lock (_lock)
        {
            (stream == OutputStreamKind.Stderr ? _stderr : _stdout).Write(data.Span);
        }

        return ValueTask.CompletedTask;
    }
}
