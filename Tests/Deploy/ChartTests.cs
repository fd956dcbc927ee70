using System.Globalization;
using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Tests.Fixtures;
using YamlDotNet.RepresentationModel;

namespace DistributedExecutor.Tests.Deploy;

/// <summary>The Helm chart, linted and rendered by a real helm for each documented option set, and its objects checked.</summary>
[Trait("Category", "Integration")]
public sealed class ChartTests
{
    private static readonly Dictionary<string, string> OptionSets = new()
    {
        ["defaults"] = "",
        ["keda off"] = "keda: { enabled: false }\n",
        ["tasks share the worker's uid"] = "taskIsolation: { enabled: false }\n",
        ["scaled job"] = """
            pools:
              - { name: default, maxConcurrentTasks: 10 }
              - { name: long-commands, maxConcurrentTasks: 2, scaledJob: true, drainTimeoutSeconds: 600 }
            """,
        ["several pools"] = """
            pools:
              - { name: default, maxConcurrentTasks: 10 }
              - { name: gpu_jobs, maxConcurrentTasks: 3, allowed: [/usr/bin/python3], blocked: [rm, shutdown], minReplicaCount: 1, maxReplicaCount: 4 }
              - { name: batch, maxConcurrentTasks: 50, activationValue: 5 }
            """,
        ["tls"] = "tls: { enabled: true, secretName: dx-tls }\n",
        ["master disruption budget"] = "master: { podDisruptionBudget: { enabled: true } }\n",
        ["masters on postgres"] = "store: { postgres: { url: \"postgres://dx:secret@db:5432/dx?sslmode=require\" } }\nmaster: { replicas: 3 }\n",
        ["placed and equipped pools"] = PlacedPools,
    };

    /// <summary>A GPU pool placed and equipped its own way beside a default pool, and a placed master.</summary>
    private const string PlacedPools = """
        master:
          nodeSelector: { disk: ssd }
          priorityClassName: system-cluster-critical
        pools:
          - name: default
          - name: gpu
            maxConcurrentTasks: 2
            image: registry.example/distexec-worker-cuda:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
            nodeSelector: { accelerator: nvidia }
            tolerations: [{ key: nvidia.com/gpu, operator: Exists, effect: NoSchedule }]
            affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: gpu, operator: In, values: ["a100"] }] }] } } }
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: { matchLabels: { distexec/pool: gpu } } }]
            priorityClassName: batch-high
            podAnnotations: { team: ml }
            podLabels: { cost-center: ml-42 }
            extraEnv: [{ name: CUDA_VISIBLE_DEVICES, value: "0" }]
            workerLabels: { zone: eu-1, accelerator: a100 }
            extraVolumes: [{ name: models, persistentVolumeClaim: { claimName: models } }]
            extraVolumeMounts: [{ name: models, mountPath: /models, readOnly: true }]
            serviceAccountName: gpu-workers
            imagePullSecrets: [{ name: regcred }]
            resources: { limits: { nvidia.com/gpu: 1, memory: 4Gi } }
        """;

    public static TheoryData<string> Sets() => [.. OptionSets.Keys];

    [Theory]
    [MemberData(nameof(Sets))]
    public async Task Lint_Strict_Passes(string set)
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, OptionSets[set]);
        try
        {
            var (code, output) = await Helm.RunAsync("lint", "--strict", Helm.Chart, "-f", file);

            Assert.True(code == 0, output);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public async Task Template_ScalersTargetTheirPoolsQueueWithItsConcurrency(string set)
    {
        var documents = await Helm.TemplateAsync(OptionSets[set]);
        var scalers = documents.Where(d => d.Kind() is "ScaledObject" or "ScaledJob").ToList();
        var pools = PoolPods(documents).ToList();
        Assert.NotEmpty(pools);

        if (set == "keda off")
        {
            Assert.DoesNotContain(documents, d => d.Text("apiVersion")?.StartsWith("keda.sh", StringComparison.Ordinal) == true);
            Assert.All(documents.Where(d => d.Kind() == "Deployment"), d => Assert.NotNull(d.Text("spec", "replicas")));
            return;
        }

        Assert.Equal(pools.Count, scalers.Count);
        var auth = documents.Where(d => d.Kind() == "TriggerAuthentication").Select(d => d.Name()).ToHashSet();
        foreach (var scaler in scalers)
        {
            var pool = scaler.Text("metadata", "labels", "distexec/pool")!;
            var trigger = Assert.Single(scaler.Items("spec", "triggers"));
            var podEnv = Yaml.EnvOf(pools.Single(p => p.Pool == pool).Spec).ToDictionary(e => e.Name, e => e.Value);

            Assert.Equal("rabbitmq", trigger.Text("type"));
            Assert.Equal("http", trigger.Text("metadata", "protocol"));
            Assert.Equal("QueueLength", trigger.Text("metadata", "mode"));
            // One trigger sees all of the pool's waiting work: the sum over its three priority queues, and no other queue.
            Assert.Equal("true", trigger.Text("metadata", "useRegex"));
            Assert.Equal("sum", trigger.Text("metadata", "operation"));
            var queues = new System.Text.RegularExpressions.Regex(trigger.Text("metadata", "queueName")!);
            Assert.All(DistributedExecutor.Contracts.Messages.TaskPriority.All, p => Assert.Matches(queues, QueueNames.Tasks(pool, p)));
            Assert.All([QueueNames.Tasks(pool + "x"), QueueNames.Tasks(pool) + ".other", QueueNames.DeadTasks, QueueNames.Worker(pool), "x" + QueueNames.Tasks(pool)],
                other => Assert.DoesNotMatch(queues, other));
            Assert.Equal(podEnv["MAX_CONCURRENT_TASKS"], trigger.Text("metadata", "value"));
            Assert.NotNull(trigger.Text("metadata", "activationValue"));
            Assert.Contains(trigger.Text("authenticationRef", "name") ?? "", auth);
            if (scaler.Kind() == "ScaledObject")
            {
                Assert.Contains(documents, d => d.Kind() == "Deployment" && d.Name() == scaler.Text("spec", "scaleTargetRef", "name"));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public async Task Template_EnvNamesAreExactlyWhatTheProgramsRead(string set)
    {
        var documents = await Helm.TemplateAsync(OptionSets[set]);

        // The chart's own variables; extraEnv is the operator's (the tools a pool's tasks need).
        var names = PodSpecs(documents).SelectMany(p => Yaml.EnvOf(p.Spec).Select(e => (p.Object, e.Name)))
            .Where(n => n.Name != "CUDA_VISIBLE_DEVICES").ToList();

        Assert.NotEmpty(names);
        Assert.All(names.Where(n => !n.Object.StartsWith("Pod/", StringComparison.Ordinal)),
            n => Assert.True(ProgramSettings.Names.Contains(n.Name), $"{n.Object} sets {n.Name}, which neither master nor worker reads"));

        // The helm test pod runs distctl: its variables are ones the CLI reads.
        var cli = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "Cli", "GlobalOptions.cs"));
        Assert.All(names.Where(n => n.Object.StartsWith("Pod/", StringComparison.Ordinal)),
            n => Assert.True(cli.Contains($"\"{n.Name}\"", StringComparison.Ordinal), $"{n.Object} sets {n.Name}, which distctl does not read"));
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public async Task Template_WorkerGracePeriodExceedsDrainAndPodsAreLockedDown(string set)
    {
        var documents = await Helm.TemplateAsync(OptionSets[set]);

        // A loop over no pools proves nothing: every option set renders at least one.
        Assert.NotEmpty(PoolPods(documents));
        Assert.NotEmpty(PodSpecs(documents));
        foreach (var (pool, spec) in PoolPods(documents))
        {
            var env = Yaml.EnvOf(spec).ToDictionary(e => e.Name, e => e.Value);
            var grace = int.Parse(spec.Text("terminationGracePeriodSeconds")!, CultureInfo.InvariantCulture);
            var drain = int.Parse(env["DRAIN_TIMEOUT_SECONDS"]!, CultureInfo.InvariantCulture) + int.Parse(env["KILL_GRACE_SECONDS"]!, CultureInfo.InvariantCulture);
            Assert.True(grace > drain, $"pool {pool}: grace {grace}s, drain and kill grace {drain}s");
        }

        foreach (var (name, spec) in PodSpecs(documents))
        {
            // No Kubernetes API token where tasks (or the master) run.
            Assert.Equal("false", spec.Text("automountServiceAccountToken"));
            var isolatingWorker = spec.Text("securityContext", "runAsUser") == "0";
            if (isolatingWorker)
            {
                // Root only to switch tasks to their own user: every capability dropped but SETUID, SETGID, KILL.
                Assert.DoesNotContain("StatefulSet", name, StringComparison.Ordinal);
                var container = spec.Items("containers").Single();
                Assert.Equal(["ALL"], container.Items("securityContext", "capabilities", "drop").Select(n => ((YamlScalarNode)n).Value!));
                Assert.Equal(["KILL", "SETGID", "SETUID"], container.Items("securityContext", "capabilities", "add").Select(n => ((YamlScalarNode)n).Value!).Order(StringComparer.Ordinal));
                var env = Yaml.EnvOf(spec).ToDictionary(e => e.Name, e => e.Value);
                Assert.NotEqual("inherit", env["TASK_USER"]);
                Assert.NotEqual("0", env["TASK_USER"]!.Split(':')[0]);
            }
            else
            {
                Assert.Equal("true", spec.Text("securityContext", "runAsNonRoot"));
            }

            foreach (var volume in spec.Items("volumes").Where(v => v.At("secret") is not null))
            {
                // Secret files readable by the process's own user only (a task runs as another).
                Assert.Contains(volume.Text("secret", "defaultMode"), new[] { "0400", "256" });
            }

            foreach (var container in spec.Items("containers"))
            {
                Assert.True(container.Text("securityContext", "allowPrivilegeEscalation") == "false", name);
                Assert.True(container.Text("securityContext", "readOnlyRootFilesystem") == "true", name);
                if (name.StartsWith("Pod/", StringComparison.Ordinal))
                {
                    // The helm test pod runs one command and ends: no probes.
                    continue;
                }

                Assert.NotNull(container.At("readinessProbe", "grpc"));

                // A broker outage fails readiness (every check) but never liveness or startup (the process answers),
                // so no pod is restarted and no running task killed while the broker is away.
                Assert.Null(container.Text("readinessProbe", "grpc", "service"));
                Assert.Equal("liveness", container.Text("livenessProbe", "grpc", "service"));
                if (container.At("startupProbe") is not null)
                {
                    Assert.Equal("liveness", container.Text("startupProbe", "grpc", "service"));
                }
            }
        }

        // Drain-friendly unless asked: a PodDisruptionBudget that blocks every drain only when the values enable it
        // (several masters on PostgreSQL have one that lets one go: Template_PostgresStore_…).
        Assert.Equal(set is "master disruption budget" or "masters on postgres", documents.Any(d => d.Kind() == "PodDisruptionBudget"));
        if (set == "masters on postgres")
        {
            return;
        }

        var master = documents.Single(d => d.Kind() == "StatefulSet");
        Assert.Equal("1", master.Text("spec", "replicas"));
        Assert.NotEmpty(master.Items("spec", "volumeClaimTemplates"));
    }

    [Fact]
    public async Task Template_Tls_MasterServesItWorkersTrustIt()
    {
        var documents = await Helm.TemplateAsync(OptionSets["tls"]);

        var master = Yaml.EnvOf(PodSpecs(documents).Single(p => p.Object.StartsWith("StatefulSet", StringComparison.Ordinal)).Spec).ToDictionary(e => e.Name, e => e.Value);
        Assert.Equal("/etc/distexec/tls/tls.crt", master["TLS_CERT_FILE"]);
        foreach (var (_, spec) in PoolPods(documents))
        {
            var env = Yaml.EnvOf(spec).ToDictionary(e => e.Name, e => e.Value);
            Assert.StartsWith("https://", env["MASTER_ADDRESS"], StringComparison.Ordinal);
            Assert.Equal("/etc/distexec/tls/ca.crt", env["MASTER_CA_CERT_FILE"]);
        }
    }

    [Theory]
    [InlineData("pools: [{ name: Bad Pool, maxConcurrentTasks: 1 }]", "does not match pattern")]
    [InlineData("pools: [{ name: default, maxConcurrentTasks: 0 }]", "maxConcurrentTasks")]
    [InlineData("tls: { enabled: true }", "secretName")]
    [InlineData("keda: { enabled: false }\npools: [{ name: long, maxConcurrentTasks: 1, scaledJob: true }]", "scaledJob needs keda.enabled=true")]
    [InlineData("masterr: {}", "masterr")]
    [InlineData("ingress: { enabled: true }", "ingress.hosts")]
    [InlineData("ingress: { enabled: true, hosts: [{ host: a.example, paths: [{ path: ui }] }] }", "does not match pattern")]
    [InlineData("ingress: { enabled: true, hostz: [] }", "hostz")]
    public async Task Template_WrongValue_FailsWithClearMessage(string values, string says)
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, values);
        try
        {
            var (code, output) = await Helm.RunAsync("template", "rel", Helm.Chart, "-f", file);

            Assert.NotEqual(0, code);
            Assert.Contains(says, output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task DeployK8s_IsTheChartRenderedWithDefaults()
    {
        var fresh = Path.GetTempFileName();
        try
        {
            var make = await ProcessRunner.RunAsync("make", ["-s", "--no-print-directory", "k8s-manifests", $"K8S_OUT={fresh}"]);
            Assert.True(make.ExitCode == 0, make.ToString());

            var committed = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "deploy", "k8s", "distributed-executor.yaml"));
            Assert.True(committed == await File.ReadAllTextAsync(fresh), "deploy/k8s/ is out of date: run 'make k8s-manifests' and commit it");
        }
        finally
        {
            File.Delete(fresh);
        }
    }

    [Fact]
    public async Task Template_PlacementAndEquipment_ReachOnlyThePodsTheyAreSetFor()
    {
        var documents = await Helm.TemplateAsync(PlacedPools);
        var pools = PoolPods(documents).ToDictionary(p => p.Pool, p => p.Spec);
        var gpu = pools["gpu"];
        var worker = gpu.Items("containers").Single();

        Assert.Equal("nvidia", gpu.Text("nodeSelector", "accelerator"));
        Assert.Equal("nvidia.com/gpu", gpu.Items("tolerations").Single().Text("key"));
        Assert.NotNull(gpu.At("affinity", "nodeAffinity"));
        Assert.Equal("kubernetes.io/hostname", gpu.Items("topologySpreadConstraints").Single().Text("topologyKey"));
        Assert.Equal("batch-high", gpu.Text("priorityClassName"));
        Assert.Equal("gpu-workers", gpu.Text("serviceAccountName"));
        Assert.Equal("false", gpu.Text("automountServiceAccountToken"));
        Assert.Equal("regcred", gpu.Items("imagePullSecrets").Single().Text("name"));
        Assert.StartsWith("registry.example/distexec-worker-cuda:1.2@sha256:", worker.Text("image"), StringComparison.Ordinal);
        Assert.Contains(Yaml.EnvOf(gpu), e => e.Name == "CUDA_VISIBLE_DEVICES" && e.Value == "0");
        Assert.Contains(Yaml.EnvOf(gpu), e => e.Name == "WORKER_LABELS" && e.Value == "accelerator=a100,zone=eu-1");
        Assert.Contains(worker.Items("volumeMounts"), m => m.Text("mountPath") == "/models");
        Assert.Contains(gpu.Items("volumes"), v => v.Text("persistentVolumeClaim", "claimName") == "models");
        var gpuPod = documents.Single(d => d.Kind() == "Deployment" && d.Text("metadata", "labels", "distexec/pool") == "gpu");
        Assert.Equal("ml-42", gpuPod.Text("spec", "template", "metadata", "labels", "cost-center"));
        Assert.Equal("ml", gpuPod.Text("spec", "template", "metadata", "annotations", "team"));

        // The default pool keeps the chart's image and none of the GPU pool's placement.
        var plain = pools["default"];
        Assert.Null(plain.At("nodeSelector"));
        Assert.Null(plain.At("tolerations"));
        Assert.Null(plain.At("serviceAccountName"));
        Assert.DoesNotContain("cuda", plain.Items("containers").Single().Text("image"), StringComparison.Ordinal);

        var master = PodSpecs(documents).Single(p => p.Object.StartsWith("StatefulSet/", StringComparison.Ordinal)).Spec;
        Assert.Equal("ssd", master.Text("nodeSelector", "disk"));
        Assert.Equal("system-cluster-critical", master.Text("priorityClassName"));
    }

    [Fact]
    public async Task Versions_ChartAppVersionImagesAndProgramsAgree()
    {
        var chart = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "charts", "distributed-executor", "Chart.yaml"));
        var appVersion = System.Text.RegularExpressions.Regex.Match(chart, "^appVersion: \"?([^\"\n]+)\"?$", System.Text.RegularExpressions.RegexOptions.Multiline).Groups[1].Value;
        var props = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "Directory.Build.props"));
        var version = System.Text.RegularExpressions.Regex.Match(props, "<Version>([^<]+)</Version>").Groups[1].Value;

        Assert.Equal(version, appVersion);
        Assert.Equal(version, typeof(DistributedExecutor.Contracts.Messages.ExecuteTask).Assembly.GetName().Version!.ToString(3));
        var documents = await Helm.TemplateAsync("");
        Assert.All(PodSpecs(documents).SelectMany(p => p.Spec.Items("containers")), c => Assert.EndsWith($":{appVersion}", c.Text("image"), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Template_PostgresStore_MastersAreADeploymentOfReplicasOnDifferentNodesWithABudgetThatLetsOneGo()
    {
        var documents = await Helm.TemplateAsync(OptionSets["masters on postgres"]);

        Assert.DoesNotContain(documents, d => d.Kind() == "StatefulSet");
        Assert.DoesNotContain(documents, d => d.Kind() == "Service" && d.Text("spec", "clusterIP") == "None");
        var master = documents.Single(d => d.Kind() == "Deployment" && d.Text("metadata", "labels", "app.kubernetes.io/component") == "master");
        Assert.Equal("3", master.Text("spec", "replicas"));
        var pod = master.At("spec", "template", "spec")!;
        var term = pod.Items("affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution").Single();
        Assert.Equal("kubernetes.io/hostname", term.Text("podAffinityTerm", "topologyKey"));
        Assert.Equal("master", term.Text("podAffinityTerm", "labelSelector", "matchLabels", "app.kubernetes.io/component"));

        // The store's URL comes from a Secret file, never a plain variable; no volume.
        var env = Yaml.EnvOf(pod);
        Assert.Contains(env, e => e.Name == "MASTER_DB_URL_FILE" && e.Value == "/etc/distexec/store/url");
        Assert.DoesNotContain(env, e => e.Name is "MASTER_DB_URL" or "MASTER_DB_PATH");
        var store = pod.Items("volumes").Single(v => v.Text("name") == "store");
        var secret = documents.Single(d => d.Kind() == "Secret" && d.Name() == store.Text("secret", "secretName"));
        Assert.Equal("postgres://dx:secret@db:5432/dx?sslmode=require", secret.Text("stringData", "url"));
        Assert.DoesNotContain(pod.Items("containers").Single().Items("volumeMounts"), m => m.Text("mountPath") == "/var/lib/distexec");

        var budget = documents.Single(d => d.Kind() == "PodDisruptionBudget");
        Assert.Equal("1", budget.Text("spec", "maxUnavailable"));
    }

    [Fact]
    public async Task Template_NameOverridesAndHeadlessServiceForTheMaster()
    {
        var documents = await Helm.TemplateAsync("fullnameOverride: dx-prod\nnameOverride: dexec\n");

        Assert.All(documents, d => Assert.StartsWith("dx-prod-", d.Name(), StringComparison.Ordinal));
        Assert.All(documents, d => Assert.Equal("dexec", d.Text("metadata", "labels", "app.kubernetes.io/name")));
        var master = documents.Single(d => d.Kind() == "StatefulSet");
        var governing = documents.Single(d => d.Kind() == "Service" && d.Name() == master.Text("spec", "serviceName"));
        Assert.Equal("None", governing.Text("spec", "clusterIP"));
    }

    [Fact]
    public async Task Template_HelmTest_RunsOneTaskThroughTheReleaseWithItsToken()
    {
        foreach (var (values, https) in new[] { ("", false), (OptionSets["tls"], true) })
        {
            var documents = await Helm.TemplateAsync(values);
            var test = documents.Single(d => d.Kind() == "Pod");
            Assert.Equal("test", test.Text("metadata", "annotations", "helm.sh/hook"));
            var container = test.Items("spec", "containers").Single();
            Assert.Equal(["run", "--wait", "--", "true"], container.Items("args").Select(a => ((YamlScalarNode)a).Value!));
            Assert.Contains("/distctl:", container.Text("image"), StringComparison.Ordinal);

            // The master the workers reach, with the API token from the release's Secret (and its CA under TLS).
            var env = Yaml.EnvOf(test.At("spec")!).ToDictionary(e => e.Name, e => e.Value);
            var worker = Yaml.EnvOf(PoolPods(documents).First().Spec).ToDictionary(e => e.Name, e => e.Value);
            Assert.Equal(worker["MASTER_ADDRESS"], env["MASTER_ADDRESS"]);
            Assert.Equal(https, env["MASTER_ADDRESS"]!.StartsWith("https://", StringComparison.Ordinal));
            Assert.Equal(https, env.ContainsKey("DISTEXEC_CA_CERT"));
            var auth = test.Items("spec", "volumes").Single(v => v.Text("name") == "auth");
            Assert.Equal(documents.Single(d => d.Kind() == "Secret" && d.At("data", "api-token") is not null).Name(), auth.Text("secret", "secretName"));
            Assert.Equal("/etc/distexec/auth/api-token", env["DISTEXEC_TOKEN_FILE"]);
        }

        Assert.DoesNotContain(await Helm.TemplateAsync("tests: { enabled: false }\n"), d => d.Kind() == "Pod");
        Assert.DoesNotContain("helm.sh/hook", await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "deploy", "k8s", "distributed-executor.yaml")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Template_Ingress_RoutesItsHostsToTheMastersHttpPort()
    {
        Assert.DoesNotContain(await Helm.TemplateAsync(""), d => d.Kind() == "Ingress");

        var documents = await Helm.TemplateAsync("""
            ingress:
              enabled: true
              className: nginx
              annotations: { cert-manager.io/cluster-issuer: letsencrypt }
              hosts:
                - { host: distexec.example.com, paths: [{ path: /, pathType: Prefix }] }
                - { host: ui.example.com }
              tls: [{ secretName: distexec-example-tls, hosts: [distexec.example.com] }]
            """);
        var ingress = documents.Single(d => d.Kind() == "Ingress");
        Assert.Equal("nginx", ingress.Text("spec", "ingressClassName"));
        Assert.Equal("letsencrypt", ingress.Text("metadata", "annotations", "cert-manager.io/cluster-issuer"));
        Assert.Equal("distexec-example-tls", ingress.Items("spec", "tls").Single().Text("secretName"));
        var rules = ingress.Items("spec", "rules").ToList();
        Assert.Equal(["distexec.example.com", "ui.example.com"], rules.Select(r => r.Text("host")!));
        var service = documents.Single(d => d.Kind() == "Service" && d.Text("spec", "clusterIP") != "None" && d.Text("metadata", "labels", "app.kubernetes.io/component") == "master");
        var http = service.Items("spec", "ports").Single(p => p.Text("name") == "http");
        foreach (var rule in rules)
        {
            var path = rule.Items("http", "paths").Single();
            Assert.Equal("/", path.Text("path"));
            Assert.Equal("Prefix", path.Text("pathType"));
            Assert.Equal(service.Name(), path.Text("backend", "service", "name"));
            Assert.Equal(http.Text("name"), path.Text("backend", "service", "port", "name"));
        }
    }

    [Theory]
    [InlineData("rabbitmq-cluster-operator.yaml")]
    [InlineData("rabbitmq-bitnami-values.yaml")]
    public void BrokerExample_ConsumerTimeoutAboveTheLargestTaskTimeout_ManagementPluginOn(string file)
    {
        var text = File.ReadAllText(Path.Combine(RepoPaths.Root, "deploy", "examples", file));
        var values = Yaml.Documents(File.ReadAllText(Path.Combine(Helm.Chart, "values.yaml"))).Single();
        var largestTask = TimeSpan.FromSeconds(int.Parse(values.Text("master", "maxTaskTimeoutSeconds")!, CultureInfo.InvariantCulture));

        var timeout = System.Text.RegularExpressions.Regex.Match(text, @"(?m)^\s*consumer_timeout\s*=\s*(\d+)\s*$");
        Assert.True(timeout.Success, $"{file} sets no consumer_timeout");
        Assert.True(TimeSpan.FromMilliseconds(long.Parse(timeout.Groups[1].Value, CultureInfo.InvariantCulture)) > largestTask, $"{file}: consumer_timeout not above {largestTask}");
        Assert.Contains("rabbitmq_management", text, StringComparison.Ordinal);
        Assert.NotEmpty(Yaml.Documents(text));
    }

    /// <summary>Every pod spec with the object that holds it ("Deployment/name").</summary>
    private static IEnumerable<(string Object, YamlNode Spec)> PodSpecs(List<YamlMappingNode> documents)
    {
        foreach (var document in documents)
        {
            var spec = document.Kind() switch
            {
                "Deployment" or "StatefulSet" => document.At("spec", "template", "spec"),
                "ScaledJob" => document.At("spec", "jobTargetRef", "template", "spec"),
                "Pod" => document.At("spec"),
                _ => null,
            };
            if (spec is not null)
            {
                yield return ($"{document.Kind()}/{document.Name()}", spec);
            }
        }
    }

    /// <summary>The worker pod spec of each pool.</summary>
    private static IEnumerable<(string Pool, YamlNode Spec)> PoolPods(List<YamlMappingNode> documents) =>
        documents.Where(d => d.Kind() is "Deployment" or "ScaledJob" && d.Text("metadata", "labels", "app.kubernetes.io/component") != "master")
            .Select(d => (d.Text("metadata", "labels", "distexec/pool")!, PodSpecs([d]).Single().Spec));
}
