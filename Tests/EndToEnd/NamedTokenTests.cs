using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.EndToEnd;

/// <summary>
/// Who did what: a master with TOKENS_FILE (an operator, a viewer, an admin) beside its API_TOKEN. Each job records
/// which token submitted and which canceled it, distctl and the JSON API show and filter it, and a viewer reads
/// everything and changes nothing — over gRPC (distctl) and the JSON API alike.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class NamedTokenTests
{
    private const string Victor = "victor-viewer-token-00001", Root = "root-admin-token-000000001";

    [Fact]
    public async Task NamedTokens_RecordWhoSubmittedAndCanceled_ViewerReadsButChangesNothing()
    {
        using var folder = new TempDirectory("distexec-tokens-");
        var tokensFile = folder.File("tokens");

        // distctl makes alice's token and the line naming it; the file holds only its hash.
        var made = await ProcessRunner.RunAsync(RepoPaths.Bin("distctl"), ["token", "new", "alice", "operator"], null);
        Assert.True(made.ExitCode == 0, made.ToString());
        var alice = made.Stdout.Trim();
        Assert.Matches("^[0-9a-f]{48}$", alice);
        var aliceLine = made.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.Equal(Line("alice", "operator", alice), aliceLine);
        Assert.Equal(2, (await ProcessRunner.RunAsync(RepoPaths.Bin("distctl"), ["token", "new", "eve", "superuser"], null)).ExitCode);
        await File.WriteAllTextAsync(tokensFile, $"""
            # name role sha256 of the token
            {aliceLine}
            {Line("victor", "viewer", Victor)}
            {Line("root", "admin", Root)}
            """);
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string>
        {
            ["TOKENS_FILE"] = tokensFile,
            ["API_TOKEN"] = "legacy-api-token-for-the-fixture",
            ["WORKER_TOKEN"] = "legacy-worker-token-for-the-fixture",
        });
        Task<CliResult> As(string token, params string[] args) => cluster.DistctlAsync(["--token", token, .. args]);

        // An operator submits; the job says so, and list filters on it.
        var ran = await As(alice, "run", "--wait", "--", "echo", "by alice");
        Assert.True(ran.ExitCode == 0, ran.ToString());
        var mine = await As(Victor, "list", "--submitted-by", "alice", "-q");
        Assert.True(mine.ExitCode == 0, mine.ToString());
        var jobId = Assert.Single(mine.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Submitted by: alice", (await As(Victor, "status", jobId)).Stdout, StringComparison.Ordinal);
        Assert.Contains(" alice ", (await As(Victor, "list")).Stdout, StringComparison.Ordinal);
        Assert.Empty((await As(Victor, "list", "--submitted-by", "victor", "-q")).Stdout);

        // A viewer reads everything and changes nothing.
        Assert.Equal("victor (viewer)\n", (await As(Victor, "whoami")).Stdout);
        var refused = await As(Victor, "run", "--", "echo", "never");
        Assert.True(refused.ExitCode == 125, refused.ToString());
        Assert.Contains("token \"victor\" (viewer) may not call SubmitJob", refused.Stderr, StringComparison.Ordinal);
        var sleeper = (await As(alice, "run", "--", "sleep", "300")).Stdout.Trim();
        var notCanceled = await As(Victor, "cancel", sleeper);
        Assert.True(notCanceled.ExitCode == 125, notCanceled.ToString());
        var untouched = (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = sleeper })).Job;
        Assert.Equal((TaskState.Unspecified, ""), (untouched.State is TaskState.Queued or TaskState.Running ? TaskState.Unspecified : untouched.State, untouched.CanceledBy));

        // The JSON API alike: the viewer's POST is 403 and stores nothing; the admin's cancel is recorded by name.
        using var http = new HttpClient { BaseAddress = cluster.HttpBase };
        using var post = new HttpRequestMessage(HttpMethod.Post, "v1/jobs") { Content = new StringContent("""{"tasks":[{"command":{"program":"echo"}}]}""", Encoding.UTF8, "application/json") };
        post.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Victor);
        var before = (await cluster.Jobs.ListJobsAsync(new ListJobsRequest())).Jobs.Count;
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(post)).StatusCode);
        Assert.Equal(before, (await cluster.Jobs.ListJobsAsync(new ListJobsRequest())).Jobs.Count);
        using var whoami = new HttpRequestMessage(HttpMethod.Get, "v1/whoami");
        whoami.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Victor);
        var me = await (await http.SendAsync(whoami)).Content.ReadAsStringAsync();
        Assert.Contains("\"canSubmit\":false", me.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);

        using var cancel = new HttpRequestMessage(HttpMethod.Post, $"v1/jobs/{sleeper}:cancel") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        cancel.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Root);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(cancel)).StatusCode);
        var canceled = await cluster.WaitForJobAsync(sleeper, TimeSpan.FromSeconds(60));
        Assert.Equal((TaskState.Canceled, "alice", "root"), (canceled.State, canceled.SubmittedBy, canceled.CanceledBy));
        Assert.Contains("Canceled by:  root", (await As(Victor, "status", sleeper)).Stdout, StringComparison.Ordinal);

        // API_TOKEN keeps working, under its own name.
        var legacy = await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = new JobSpec { Tasks = { new TaskSpec { Command = new CommandSpec { Program = "true" } } } } });
        Assert.Equal("api-token", legacy.Job.SubmittedBy);
    }

    [Fact]
    public async Task TokensFile_BadLine_MasterDoesNotStartAndSaysWhere()
    {
        using var folder = new TempDirectory("distexec-tokens-");
        var tokensFile = folder.File("tokens");
        await File.WriteAllTextAsync(tokensFile, $"{Line("alice", "operator", "alice-operator-token-0001")}\nbob superuser sha256:{new string('0', 64)}\n");

        var master = await ProcessRunner.RunAsync(RepoPaths.Bin("master"), [], new Dictionary<string, string?>
        {
            ["TOKENS_FILE"] = tokensFile,
            ["MASTER_ADDRESS"] = $"127.0.0.1:{FreePort.Next()}",
            ["MASTER_HTTP_ADDRESS"] = "off",
            ["MASTER_DB_PATH"] = folder.File("master.db"),
            ["API_TOKEN"] = null,
            ["WORKER_TOKEN"] = null,
        });

        Assert.True(master.ExitCode != 0, master.ToString());
        Assert.Contains($"TOKENS_FILE {tokensFile} line 2: role \"superuser\" is not one of viewer, operator, worker, admin", master.Stderr + master.Stdout, StringComparison.Ordinal);
    }

    private static string Line(string name, string role, string token) => $"{name} {role} sha256:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)))}";
}
