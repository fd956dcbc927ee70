using System.Text.RegularExpressions;
using DistributedExecutor.Tests.Fixtures;
using YamlDotNet.RepresentationModel;

namespace DistributedExecutor.Tests.Deploy;

/// <summary>
/// The Dockerfiles and compose.yaml, read as text (this machine has no Docker engine): multi-stage, non-root, an
/// init process as PID 1, and a compose stack whose settings are ones the programs read.
/// </summary>
public sealed partial class ImageAndComposeTests
{
    public static TheoryData<string> Images() => ["master", "worker", "distctl"];

    [Theory]
    [MemberData(nameof(Images))]
    public void Dockerfile_MultiStageNonRoot_InitWhereTasksRun_ChiseledMaster(string image)
    {
        var lines = File.ReadAllLines(Path.Combine(RepoPaths.Root, "docker", $"{image}.Dockerfile"))
            .Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();

        var stages = lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();
        Assert.True(stages.Count >= 2, "a build stage and a runtime stage");
        Assert.Contains("/dotnet/sdk:", stages[0], StringComparison.Ordinal);
        Assert.DoesNotContain("/dotnet/sdk:", stages[^1], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("COPY --from=", StringComparison.Ordinal));

        // Packages restore in a layer of their own, from the project files alone, before the sources arrive.
        var restore = lines.FindIndex(l => l.StartsWith("RUN dotnet restore ", StringComparison.Ordinal));
        var firstSources = lines.FindIndex(l => SourceFolderCopy().IsMatch(l));
        Assert.True(restore > 0 && restore < firstSources, $"dotnet restore (line {restore}) before the first source folder is copied (line {firstSources})");

        var user = lines.Last(l => l.StartsWith("USER ", StringComparison.Ordinal))["USER ".Length..].Split(':')[0];
        Assert.NotEqual("root", user);
        Assert.NotEqual("0", user);
        Assert.True(lines.IndexOf(lines.Last(l => l.StartsWith("USER ", StringComparison.Ordinal))) > lines.IndexOf(stages[^1]), "USER is set in the runtime stage");

        var entrypoint = lines.Single(l => l.StartsWith("ENTRYPOINT ", StringComparison.Ordinal));
        if (image == "master")
        {
            // The master runs no tasks: a chiseled runtime (no shell, no package manager, nothing run in it while
            // building), the program itself as PID 1.
            Assert.Contains("-chiseled", stages[^1], StringComparison.Ordinal);
            Assert.DoesNotContain(lines.Skip(lines.IndexOf(stages[^1])), l => l.StartsWith("RUN ", StringComparison.Ordinal));
            Assert.Equal("""ENTRYPOINT ["/app/DistributedExecutor.Master"]""", entrypoint);
            return;
        }

        // Workers run task processes (and distctl shares their base): an init as PID 1 reaps orphans.
        Assert.Matches(InitFirst(), entrypoint);
        Assert.Contains(lines, l => l.Contains("install", StringComparison.Ordinal) && l.Contains("tini", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"^COPY \w+/ \w+/$")]
    private static partial Regex SourceFolderCopy();

    [Fact]
    public void Compose_BrokerWithManagementUiAndConsumerTimeout_MasterAndTwoWorkers()
    {
        var compose = Yaml.Documents(File.ReadAllText(Path.Combine(RepoPaths.Root, "compose.yaml"))).Single();
        var services = (YamlMappingNode)compose.At("services")!;
        var names = services.Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToList();

        var rabbit = compose.At("services", "rabbitmq")!;
        Assert.Contains("management", rabbit.Text("image"), StringComparison.Ordinal);
        Assert.Contains(rabbit.Items("ports"), p => ((YamlScalarNode)p).Value!.EndsWith(":15672", StringComparison.Ordinal));
        var conf = rabbit.Items("volumes").Select(v => ((YamlScalarNode)v).Value!).Single(v => v.Contains("rabbitmq.conf", StringComparison.Ordinal)).Split(':')[0];
        Assert.Matches(ConsumerTimeout(), File.ReadAllText(Path.Combine(RepoPaths.Root, conf)));

        Assert.Contains("master", names);
        var workers = names.Where(n => n.StartsWith("worker", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, workers.Count);
        // distctl runs in the stack too (profile cli), so compose users need no SDK; it reads the CLI's variables.
        var cli = compose.At("services", "distctl")!;
        Assert.Contains("distctl.Dockerfile", cli.Text("build", "dockerfile"), StringComparison.Ordinal);
        Assert.Equal("master:50051", cli.Text("environment", "MASTER_ADDRESS"));
        Assert.NotNull(cli.Text("environment", "DISTEXEC_TOKEN"));

        // Profile postgres: the database and a second master on it, reachable by the first through MASTER_DB_URL.
        var postgres = compose.At("services", "postgres")!;
        Assert.Equal(["postgres"], postgres.Items("profiles").Select(p => ((YamlScalarNode)p).Value!));
        Assert.Equal(["postgres"], compose.At("services", "master-2")!.Items("profiles").Select(p => ((YamlScalarNode)p).Value!));
        var url = new Uri(compose.Text("services", "master-2", "environment", "MASTER_DB_URL")!.Replace("${POSTGRES_PASSWORD:-local-dev-db-password}", "pw", StringComparison.Ordinal));
        Assert.Equal(("postgres", "postgres", "distexec"), (url.Scheme, url.Host, url.AbsolutePath.Trim('/')));
        Assert.Equal(postgres.Text("environment", "POSTGRES_DB"), url.AbsolutePath.Trim('/'));
        Assert.Equal("${MASTER_DB_URL:-}", compose.Text("services", "master", "environment", "MASTER_DB_URL"));

        foreach (var service in names.Where(n => n is not ("rabbitmq" or "distctl" or "postgres")))
        {
            foreach (var (key, _) in (YamlMappingNode)compose.At("services", service, "environment")!)
            {
                var name = ((YamlScalarNode)key).Value!;
                Assert.True(name == "<<" || ProgramSettings.Names.Contains(name), $"{service} sets {name}, which the programs do not read");
            }
        }

        Assert.All(workers, w => Assert.NotNull(compose.Text("services", w, "stop_grace_period")));
    }

    [Fact]
    public void Compose_BrokerUserOfItsOwn_WorkersIsolateTasksAndKeepThemOffTheStack()
    {
        var compose = Yaml.Documents(File.ReadAllText(Path.Combine(RepoPaths.Root, "compose.yaml"))).Single();
        var services = ((YamlMappingNode)compose.At("services")!).Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToList();

        // Not guest, and guest stays confined to the broker's own loopback.
        Assert.Equal("distexec", compose.Text("services", "rabbitmq", "environment", "RABBITMQ_DEFAULT_USER"));
        var conf = File.ReadAllText(Path.Combine(RepoPaths.Root, "deploy", "compose", "rabbitmq.conf"));
        Assert.DoesNotContain("loopback_users", conf, StringComparison.Ordinal);
        foreach (var service in services.Where(n => n is not ("rabbitmq" or "distctl" or "postgres")))
        {
            var url = new Uri(Environment(compose, service)["RABBITMQ_URL"]);
            Assert.DoesNotContain("guest", url.UserInfo, StringComparison.Ordinal);
        }

        foreach (var worker in services.Where(n => n.StartsWith("worker", StringComparison.Ordinal)))
        {
            var blocked = Environment(compose, worker)["EXECUTOR_HTTP_BLOCKED"].Split(',');
            Assert.Contains("private", blocked);
            Assert.Contains("metadata", blocked);
            Assert.Equal(["ALL"], compose.At("services", worker, "cap_drop")!.AllNodes.OfType<YamlScalarNode>().Select(n => n.Value!));
            Assert.Equal(["KILL", "SETGID", "SETUID"], compose.At("services", worker, "cap_add")!.AllNodes.OfType<YamlScalarNode>().Select(n => n.Value!).Order(StringComparer.Ordinal));
        }
    }

    /// <summary>A service's environment with YAML merge keys (&lt;&lt;: *anchor) followed.</summary>
    private static Dictionary<string, string> Environment(YamlNode compose, string service)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(YamlMappingNode mapping)
        {
            foreach (var (key, value) in mapping.Children)
            {
                if (((YamlScalarNode)key).Value == "<<" && value is YamlMappingNode merged)
                {
                    Add(merged);
                }
            }

            foreach (var (key, value) in mapping.Children)
            {
                if (((YamlScalarNode)key).Value is { } name && name != "<<" && value is YamlScalarNode scalar)
                {
                    result[name] = scalar.Value!;
                }
            }
        }

        Add((YamlMappingNode)compose.At("services", service, "environment")!);
        return result;
    }

    [GeneratedRegex("""^ENTRYPOINT \["/usr/bin/tini", "--", """)]
    private static partial Regex InitFirst();

    [GeneratedRegex(@"(?m)^consumer_timeout\s*=\s*\d+")]
    private static partial Regex ConsumerTimeout();
}
