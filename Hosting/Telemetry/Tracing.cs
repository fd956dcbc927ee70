using System.Diagnostics;

namespace DistributedExecutor.Hosting.Telemetry;

/// <summary>Spans of our own (admission, store writes, publishing, execution) beside ASP.NET Core's, gRPC's and MassTransit's.</summary>
internal static class Tracing
{
    public const string SourceName = "DistributedExecutor";

    public static readonly ActivitySource Source = new(SourceName);
}
