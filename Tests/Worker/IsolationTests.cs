using DistributedExecutor.Tests.Fixtures;
using System.Net;
using DistributedExecutor.Executors.Http;
using DistributedExecutor.Executors.Isolation;
using DistributedExecutor.Hosting.Telemetry;
using DistributedExecutor.Worker.Options;

namespace DistributedExecutor.Tests.Worker;

/// <summary>TASK_USER resolution, what the worker process hides from tasks, and IPv6 forms that carry IPv4.</summary>
public sealed class IsolationTests : IDisposable
{
    private readonly string _passwd = Path.GetTempFileName();

    public IsolationTests() => File.WriteAllText(_passwd, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nrunner:x:1500:1600::/tmp:/bin/sh\n");

    public void Dispose() => File.Delete(_passwd);

    [Theory]
    [InlineData("nobody", 65534, 65534, "/")]
    [InlineData("runner", 1500, 1600, "/tmp")]
    [InlineData("1500", 1500, 1600, "/tmp")]
    [InlineData("2000:3000", 2000, 3000, "/")]
    [InlineData("2000", 2000, 2000, "/")]
    public void Resolve_NamesAndIds(string value, int uid, int gid, string home)
    {
        var user = TaskUser.Resolve(value, _passwd, out var error);

        Assert.Null(error);
        Assert.Equal((uid, gid, home), (user!.Uid, user.Gid, user.Home));
    }

    [Theory]
    [InlineData("root", "root")]
    [InlineData("0", "root")]
    [InlineData("2000:0", "root")]
    [InlineData("ghost", "no such user")]
    [InlineData("1:x", "must be a number")]
    public void Resolve_RootOrUnknown_RefusedWithReason(string value, string reason)
    {
        Assert.Null(TaskUser.Resolve(value, _passwd, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TaskIsolation_AsRootOnThisMachine_TasksGetNobodyAndTheLauncherIsThere()
    {
        var isolation = DistributedExecutor.Tests.Fixtures.TestIsolation.Shared;

        Assert.True(File.Exists(isolation.LauncherPath));
        if (ProcessPrivileges.EffectiveUid == 0)
        {
            Assert.Equal(65534, isolation.User!.Uid);
            Assert.False(isolation.SharesWorkerUid);
        }
    }

    [Fact]
    public void TaskIsolation_ReaperWhenAsked_AndSecretFilesTheTaskUserCanOpenAreProblems()
    {
        if (ProcessPrivileges.EffectiveUid != 0)
        {
            return;
        }

        using var dir = new TempDirectory("distexec-isolation-");
        File.SetUnixFileMode(dir.FullName, (UnixFileMode)0b111_101_101);
        var open = Path.Combine(dir.FullName, "open");
        var closed = Path.Combine(dir.FullName, "closed");
        File.WriteAllText(open, "secret");
        File.WriteAllText(closed, "secret");
        File.SetUnixFileMode(open, (UnixFileMode)0b110_100_100);
        File.SetUnixFileMode(closed, (UnixFileMode)0b110_000_000);
        var problems = new List<string>();

        var isolation = TaskIsolation.Create(null, [("A_FILE", open), ("B_FILE", closed)], problems, "reaper");

        Assert.Null(isolation);
        Assert.Equal([$"A_FILE={open} is readable by the task user nobody; make it readable by the worker's user only (chmod 600; in Kubernetes a secret volume's defaultMode 0400)"], problems);
        using var reaper = TaskIsolation.Create(null, [("B_FILE", closed)], problems = [], "reaper");
        Assert.Equal(ContainmentKind.Reaper, reaper!.Kind);
        Assert.Empty(problems);
    }

    [Fact]
    public void MakeNonDumpable_ThisProcess_NotDumpableAfter()
    {
        // The test host is a throw-away process; what matters is that the call works and sticks.
        ProcessPrivileges.MakeNonDumpable();

        Assert.False(ProcessPrivileges.IsDumpable);
    }

    [Theory]
    [InlineData("::ffff:169.254.169.254", "169.254.169.254")]
    [InlineData("::a9fe:a9fe", "169.254.169.254")]
    [InlineData("64:ff9b::a9fe:a9fe", "169.254.169.254")]
    [InlineData("64:ff9b:1:a9fe:a9:fe00::", "169.254.169.254")]
    [InlineData("2002:a9fe:a9fe::1", "169.254.169.254")]
    [InlineData("2001:0:a9fe:a9fe::ffff:ffff", "169.254.169.254,0.0.0.0")]
    [InlineData("fe80::5efe:7f00:1", "127.0.0.1")]
    [InlineData("::1", "")]
    [InlineData("2001:db8::1", "")]
    public void EmbeddedIPv4_StandardForms(string ipv6, string expected)
    {
        var embedded = AddressPolicy.EmbeddedIPv4(IPAddress.Parse(ipv6));

        Assert.Equal(expected, string.Join(",", embedded));
    }

    [Fact]
    public void Check_Nat64OfLoopback_JudgedAsLoopback()
    {
        var policy = new AddressPolicy(new HttpExecutorOptions { Blocked = ["loopback"] });

        Assert.Contains("carries 127.0.0.1", policy.Check(IPAddress.Parse("64:ff9b::7f00:1")), StringComparison.Ordinal);
        Assert.Null(policy.Check(IPAddress.Parse("2001:db8::1")));
    }
}
