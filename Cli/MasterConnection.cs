using DistributedExecutor.Contracts.Security;
using DistributedExecutor.Contracts.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace DistributedExecutor.Cli;

/// <summary>The channel to the master, with the API token when one is set, over TLS for https:// or a CA file.</summary>
internal sealed class MasterConnection : IDisposable
{
    private readonly GrpcChannel _channel;

    public MasterConnection(string address, string? token, string? caCertFile = null)
    {
        Address = ToUri(address);
        if (caCertFile is not null && Address.Scheme == Uri.UriSchemeHttp)
        {
            Address = new UriBuilder(Address) { Scheme = Uri.UriSchemeHttps, Port = Address.Port }.Uri;
        }

        var credentials = CallCredentials.FromInterceptor((_, metadata) =>
        {
            if (!string.IsNullOrEmpty(token))
            {
                metadata.Add("authorization", $"Bearer {token}");
            }

            return Task.CompletedTask;
        });
        _channel = GrpcChannel.ForAddress(Address, new GrpcChannelOptions
        {
            Credentials = Address.Scheme == Uri.UriSchemeHttps
                ? ChannelCredentials.Create(ChannelCredentials.SecureSsl, credentials)
                : ChannelCredentials.Create(ChannelCredentials.Insecure, credentials),
            UnsafeUseInsecureChannelCallCredentials = Address.Scheme == Uri.UriSchemeHttp,
            HttpHandler = new SocketsHttpHandler
            {
                SslOptions = { RemoteCertificateValidationCallback = CertificateTrust.Callback(caCertFile) },
                EnableMultipleHttp2Connections = true,
            },
            MaxReceiveMessageSize = 64 * 1024 * 1024,
        });
        Jobs = new JobService.JobServiceClient(_channel);
        Workers = new WorkerService.WorkerServiceClient(_channel);
        Schedules = new ScheduleService.ScheduleServiceClient(_channel);
    }

    public Uri Address { get; }

    public GrpcChannel Channel => _channel;

    public JobService.JobServiceClient Jobs { get; }

    public WorkerService.WorkerServiceClient Workers { get; }

    public ScheduleService.ScheduleServiceClient Schedules { get; }

    public void Dispose() => _channel.Dispose();

    /// <summary>"localhost:50051", ":50051", "[::1]:50051" or a full http(s) URL.</summary>
    public static Uri ToUri(string address)
    {
        var text = address.Trim();
        if (text.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            return new Uri(text);
        }

        if (text.StartsWith(':'))
        {
            text = "localhost" + text;
        }

        if (!Uri.TryCreate("http://" + text, UriKind.Absolute, out var uri) || uri.Port <= 0 || text.IndexOf(':', StringComparison.Ordinal) < 0)
        {
            throw new FormatException($"master address \"{address}\" is not host:port");
        }

        return uri;
    }
}
