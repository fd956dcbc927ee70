using System.Security.Cryptography;
using System.Text;
using DistributedExecutor.Master.Options;
using Grpc.Core;

namespace DistributedExecutor.Master.Services;

/// <summary>
/// Bearer tokens, by role. Workers' calls (RegisterWorker, Heartbeat) take WORKER_TOKEN (API_TOKEN when no worker
/// token is set); every other call takes API_TOKEN. A token of the other role is PERMISSION_DENIED, so a worker's
/// token cannot submit jobs. With no token for a role its calls are open, which the master allows only on
/// loopback. Health checks stay open for probes. Comparisons take constant time; tokens are never logged.
/// </summary>
internal sealed class TokenAuthorizer
{
    private static readonly HashSet<string> WorkerMethods = new(StringComparer.Ordinal)
    {
        "/distexec.v1.WorkerService/RegisterWorker",
        "/distexec.v1.WorkerService/Heartbeat",
    };

    private readonly byte[]? _client;
    private readonly byte[]? _worker;

    public TokenAuthorizer(MasterOptions options)
    {
        _client = Bearer(options.ApiToken);
        _worker = Bearer(options.WorkerToken ?? options.ApiToken);
    }

    /// <summary>Null when a call of gRPC method <paramref name="method"/> ("/pkg.Service/Method") with this authorization header may proceed.</summary>
    public Status? Check(string method, string? authorization)
    {
        if (method.StartsWith("/grpc.health.v1.Health/", StringComparison.Ordinal))
        {
            return null;
        }

        var workerCall = WorkerMethods.Contains(method);
        var (expected, other) = workerCall ? (_worker, _client) : (_client, _worker);
        if (expected is null)
        {
            return null;
        }

        var presented = authorization is null ? null : Encoding.UTF8.GetBytes(authorization);
        if (presented is not null && CryptographicOperations.FixedTimeEquals(presented, expected))
        {
            return null;
        }

        if (presented is not null && other is not null && CryptographicOperations.FixedTimeEquals(presented, other))
        {
            return new Status(StatusCode.PermissionDenied, workerCall
                ? "this call is for workers: present WORKER_TOKEN, not a client token"
                : "a worker token cannot call this: present the API token (distctl --token / DISTEXEC_TOKEN)");
        }

        return new Status(StatusCode.Unauthenticated, workerCall
            ? "missing or wrong worker token (set WORKER_TOKEN, or API_TOKEN when the master has no WORKER_TOKEN)"
            : "missing or wrong API token (distctl --token or DISTEXEC_TOKEN)");
    }

    private static byte[]? Bearer(string? token) => token is null ? null : Encoding.UTF8.GetBytes("Bearer " + token);
}
