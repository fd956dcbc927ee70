using System.Security.Cryptography;
using System.Text;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Master.Services;
using Grpc.Core;

namespace DistributedExecutor.Tests.Master.Services;

/// <summary>TOKENS_FILE as the master reads it, and what each role's token may call.</summary>
public sealed class NamedTokensTests
{
    private const string Submit = "/distexec.v1.JobService/SubmitJob";
    private const string Cancel = "/distexec.v1.JobService/CancelJob";
    private const string Get = "/distexec.v1.JobService/GetJob";
    private const string ListWorkers = "/distexec.v1.WorkerService/ListWorkers";
    private const string Heartbeat = "/distexec.v1.WorkerService/Heartbeat";

    private static string Line(string name, string role, string token) => $"{name} {role} sha256:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)))}";

    [Fact]
    public void Parse_NamesRolesAndHashes_CommentsAndBlankLinesIgnored()
    {
        var problems = new List<string>();
        var tokens = NamedTokens.Parse($"# who may do what\n\n{Line("alice", "operator", "a-token")}  # on call\r\n{Line("victor", "VIEWER", "v-token")}\n", "f", problems);

        Assert.Empty(problems);
        Assert.Equal([("alice", Role.Operator), ("victor", Role.Viewer)], tokens.Select(t => (t.Name, t.Role)));
    }

    [Theory]
    [InlineData("alice operator", "f line 1: expected \"name role sha256:HEX\", found 2 field(s)")]
    [InlineData("alice root sha256:00", "f line 1: role \"root\" is not one of viewer, operator, worker, admin")]
    [InlineData("alice 1 sha256:00", "f line 1: role \"1\" is not one of viewer, operator, worker, admin")]
    [InlineData("alice operator plaintext-token", "f line 1: the token is given as sha256:HEX (64 hex digits: printf %s \"$TOKEN\" | sha256sum), not \"plaintext-to…\"")]
    [InlineData("al/ce operator sha256:00", "f line 1: name \"al/ce\" must be 1-64 letters, digits, '.', '_', '@' or '-'")]
    [InlineData("api-token admin sha256:00", "f line 1: the name api-token is kept for the token in API_TOKEN; choose another")]
    [InlineData("", "f names no token: add lines \"name role sha256:HEX\" (or unset TOKENS_FILE)")]
    public void Parse_BadLine_SaysWhichAndWhy(string text, string problem)
    {
        var problems = new List<string>();

        NamedTokens.Parse(text, "f", problems);

        Assert.Equal([problem], problems);
    }

    [Fact]
    public void Parse_SameNameOrSameTokenTwice_Refused()
    {
        var problems = new List<string>();

        NamedTokens.Parse($"{Line("alice", "operator", "one")}\n{Line("alice", "viewer", "two")}\n{Line("bob", "viewer", "one")}", "f", problems);

        Assert.Equal(["f line 2: alice is named twice", "f line 3: bob has the same token as alice; each name needs a token of its own"], problems);
    }

    [Fact]
    public void Check_EachRoleCallsOnlyWhatItMay_AndIsKnownByName()
    {
        var authorizer = Authorizer(api: "legacy-api-token-1234", worker: "legacy-worker-token-1");

        Assert.Equal("victor", Allowed(authorizer, Get, "v-token").Name);
        Assert.Equal("victor", Allowed(authorizer, ListWorkers, "v-token").Name);
        Assert.Contains("token \"victor\" (viewer) may not call SubmitJob: it takes a token with the role operator or admin", Denied(authorizer, Submit, "v-token"), StringComparison.Ordinal);
        Denied(authorizer, Cancel, "v-token");
        Denied(authorizer, Heartbeat, "v-token");

        Assert.Equal("alice", Allowed(authorizer, Submit, "a-token").Name);
        Assert.Equal("alice", Allowed(authorizer, Cancel, "a-token").Name);
        Denied(authorizer, Heartbeat, "a-token");

        Assert.Equal("w1", Allowed(authorizer, Heartbeat, "w-token").Name);
        Denied(authorizer, Get, "w-token");

        foreach (var method in (string[])[Submit, Cancel, Get, Heartbeat, "/distexec.v1.JobService/SomethingNew"])
        {
            Assert.Equal("root", Allowed(authorizer, method, "r-token").Name);
        }

        // Only admin may call what the master does not know (a method added later is closed until it is classed).
        Denied(authorizer, "/distexec.v1.JobService/SomethingNew", "a-token");

        // API_TOKEN and WORKER_TOKEN keep their calls and their messages, under their own names.
        Assert.Equal("api-token", Allowed(authorizer, Submit, "legacy-api-token-1234").Name);
        Assert.Contains("this call is for workers", Denied(authorizer, Heartbeat, "legacy-api-token-1234"), StringComparison.Ordinal);
        Assert.Equal("worker-token", Allowed(authorizer, Heartbeat, "legacy-worker-token-1").Name);
        Assert.Contains("a worker token cannot call this", Denied(authorizer, Get, "legacy-worker-token-1"), StringComparison.Ordinal);

        Assert.Equal(StatusCode.Unauthenticated, authorizer.Check(Get, "Bearer nobody").Refusal!.Value.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, authorizer.Check(Get, null).Refusal!.Value.StatusCode);
    }

    [Fact]
    public void Check_OnlyWorkerTokensNamed_ClientCallsStayOpenOnlyWithoutAnyClientToken()
    {
        var problems = new List<string>();
        var workersOnly = new TokenAuthorizer(new MasterOptions { Tokens = NamedTokens.Parse(Line("w1", "worker", "w-token"), "f", problems) });
        var viewersOnly = new TokenAuthorizer(new MasterOptions { Tokens = NamedTokens.Parse(Line("victor", "viewer", "v-token"), "f", problems) });

        Assert.Same(Caller.Open, workersOnly.Check(Submit, null).Caller);
        Assert.Equal(StatusCode.Unauthenticated, workersOnly.Check(Heartbeat, null).Refusal!.Value.StatusCode);

        // A file of viewers does not leave submissions open: with any client token, every client call needs one.
        Assert.Equal(StatusCode.Unauthenticated, viewersOnly.Check(Submit, null).Refusal!.Value.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, viewersOnly.Check(Submit, "Bearer v-token").Refusal!.Value.StatusCode);
        Assert.Empty(problems);
    }

    private static TokenAuthorizer Authorizer(string? api = null, string? worker = null)
    {
        var problems = new List<string>();
        var tokens = NamedTokens.Parse(string.Join('\n', Line("alice", "operator", "a-token"), Line("victor", "viewer", "v-token"), Line("w1", "worker", "w-token"), Line("root", "admin", "r-token")), "f", problems);
        Assert.Empty(problems);
        return new TokenAuthorizer(new MasterOptions { Tokens = tokens, ApiToken = api, WorkerToken = worker });
    }

    private static Caller Allowed(TokenAuthorizer authorizer, string method, string token)
    {
        var (caller, refusal) = authorizer.Check(method, "Bearer " + token);
        Assert.Null(refusal);
        return caller!;
    }

    private static string Denied(TokenAuthorizer authorizer, string method, string token)
    {
        var (caller, refusal) = authorizer.Check(method, "Bearer " + token);
        Assert.Null(caller);
        Assert.Equal(StatusCode.PermissionDenied, refusal!.Value.StatusCode);
        return refusal.Value.Detail;
    }
}
