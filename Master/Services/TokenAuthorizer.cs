using System.Security.Cryptography;
using System.Text;
using DistributedExecutor.Master.Options;
using Grpc.Core;

namespace DistributedExecutor.Master.Services;

/// <summary>
/// Bearer tokens, each with a name and a role. Named tokens come from TOKENS_FILE (viewer: reads; operator: reads,
/// submits, cancels; worker: RegisterWorker and Heartbeat(Stream); admin: everything). API_TOKEN is the token "api-token"
/// with the operator's calls (and the workers' when WORKER_TOKEN is unset); WORKER_TOKEN is "worker-token", a worker.
/// A token without the role a call needs is PERMISSION_DENIED. A kind of call (clients', workers') for which no
/// token is configured at all is open, which the master allows only on loopback. Health checks stay open for probes.
/// Tokens are compared as SHA-256 hashes in constant time and never logged.
/// </summary>
internal sealed class TokenAuthorizer
{
    private static readonly HashSet<string> WorkerMethods = new(StringComparer.Ordinal)
    {
        "/distexec.v1.WorkerService/RegisterWorker",
        "/distexec.v1.WorkerService/Heartbeat",
        "/distexec.v1.WorkerService/HeartbeatStream",
    };

    private static readonly HashSet<string> ReadMethods = new(StringComparer.Ordinal)
    {
        "/distexec.v1.JobService/GetJob",
        "/distexec.v1.JobService/ListJobs",
        "/distexec.v1.JobService/WatchJob",
        "/distexec.v1.JobService/GetOutput",
        "/distexec.v1.JobService/ListPools",
        "/distexec.v1.JobService/WhoAmI",
        "/distexec.v1.JobService/GetHistory",
        "/distexec.v1.JobService/ListLimits",
        "/distexec.v1.WorkerService/ListWorkers",
        "/distexec.v1.ScheduleService/GetSchedule",
        "/distexec.v1.ScheduleService/ListSchedules",
    };

    private static readonly HashSet<string> ChangeMethods = new(StringComparer.Ordinal)
    {
        "/distexec.v1.JobService/SubmitJob",
        "/distexec.v1.JobService/CancelJob",
        "/distexec.v1.JobService/SetLimit",
        "/distexec.v1.JobService/DeleteLimit",
        "/distexec.v1.ScheduleService/CreateSchedule",
        "/distexec.v1.ScheduleService/PauseSchedule",
        "/distexec.v1.ScheduleService/ResumeSchedule",
        "/distexec.v1.ScheduleService/DeleteSchedule",
        "/distexec.v1.ScheduleService/TriggerSchedule",
    };

    private readonly List<(byte[] Sha256, Caller Caller)> _tokens = [];
    private readonly bool _clientCallsOpen;
    private readonly bool _workerCallsOpen;

    public TokenAuthorizer(MasterOptions options)
    {
        foreach (var token in options.Tokens)
        {
            _tokens.Add((token.Sha256, new Caller(token.Name, new HashSet<Role> { token.Role })));
        }

        if (options.ApiToken is { } api)
        {
            _tokens.Add((Sha256(api), new Caller(NamedTokens.ApiTokenName, options.WorkerToken is null ? new HashSet<Role> { Role.Operator, Role.Worker } : new HashSet<Role> { Role.Operator })));
        }

        if (options.WorkerToken is { } worker)
        {
            _tokens.Add((Sha256(worker), new Caller(NamedTokens.WorkerTokenName, new HashSet<Role> { Role.Worker })));
        }

        _clientCallsOpen = !_tokens.Any(t => t.Caller.Roles.Overlaps([Role.Viewer, Role.Operator, Role.Admin]));
        _workerCallsOpen = !_tokens.Any(t => t.Caller.Roles.Overlaps([Role.Worker, Role.Admin]));
    }

    /// <summary>The roles that may make a call of gRPC method <paramref name="method"/> ("/pkg.Service/Method").</summary>
    public static IReadOnlySet<Role> RolesFor(string method) =>
        WorkerMethods.Contains(method) ? new HashSet<Role> { Role.Worker, Role.Admin }
        : ReadMethods.Contains(method) ? new HashSet<Role> { Role.Viewer, Role.Operator, Role.Admin }
        : ChangeMethods.Contains(method) ? new HashSet<Role> { Role.Operator, Role.Admin }
        : new HashSet<Role> { Role.Admin };

    /// <summary>
    /// Who makes a call of <paramref name="method"/> with this authorization header, or why it may not: the caller
    /// (<see cref="Caller.Open"/> where no token is needed) or a status to refuse it with.
    /// </summary>
    public (Caller? Caller, Status? Refusal) Check(string method, string? authorization)
    {
        if (method.StartsWith("/grpc.health.v1.Health/", StringComparison.Ordinal))
        {
            return (Caller.Open, null);
        }

        var workerCall = WorkerMethods.Contains(method);
        if (workerCall ? _workerCallsOpen : _clientCallsOpen)
        {
            return (Caller.Open, null);
        }

        var caller = Find(authorization);
        if (caller is null)
        {
            return (null, new Status(StatusCode.Unauthenticated, workerCall
                ? "missing or wrong worker token (set WORKER_TOKEN, or API_TOKEN when the master has no WORKER_TOKEN)"
                : "missing or wrong API token (distctl --token or DISTEXEC_TOKEN)"));
        }

        var needed = RolesFor(method);
        if (caller.Roles.Overlaps(needed))
        {
            return (caller, null);
        }

        var call = method[(method.LastIndexOf('/') + 1)..];
        return (null, new Status(StatusCode.PermissionDenied, caller.Name switch
        {
            NamedTokens.ApiTokenName when workerCall => "this call is for workers: present WORKER_TOKEN, not a client token",
            NamedTokens.WorkerTokenName => "a worker token cannot call this: present the API token (distctl --token / DISTEXEC_TOKEN)",
            _ => $"token \"{caller.Name}\" ({caller.RoleNames}) may not call {call}: it takes a token with the role {string.Join(" or ", needed.Order().Select(r => r.ToString().ToLowerInvariant()))}",
        }));
    }

    private Caller? Find(string? authorization)
    {
        if (authorization is null || !authorization.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return null;
        }

        // Every token compared, in constant time each: the answer's timing says nothing about which came close.
        var presented = Sha256(authorization["Bearer ".Length..]);
        Caller? found = null;
        foreach (var (sha, caller) in _tokens)
        {
            if (CryptographicOperations.FixedTimeEquals(presented, sha))
            {
                found ??= caller;
            }
        }

        return found;
    }

    private static byte[] Sha256(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}
