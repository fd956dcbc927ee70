using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.Deploy;

/// <summary>The real helm binary that <c>make helm</c> fetches (make test does), run on the chart.</summary>
public static class Helm
{
    public static string Chart => Path.Combine(RepoPaths.Root, "charts", "distributed-executor");

    public static async Task<(int ExitCode, string Output)> RunAsync(params string[] args)
    {
        var helm = Path.Combine(RepoPaths.Root, "tools", ".cache", "helm", "helm");
        if (!File.Exists(helm))
        {
            throw new InvalidOperationException($"helm is not at {helm}: run 'make helm' (make test does)");
        }

        var result = await ProcessRunner.RunAsync(helm, args, timeout: TimeSpan.FromSeconds(60));
        return (result.ExitCode, result.Stdout + result.Stderr);
    }

    /// <summary>helm template with a values file holding <paramref name="values"/> (YAML).</summary>
    public static async Task<List<YamlDotNet.RepresentationModel.YamlMappingNode>> TemplateAsync(string values)
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, values);
        try
        {
            var (code, output) = await RunAsync("template", "rel", Chart, "--namespace", "ns", "-f", file);
            Assert.True(code == 0, output);
            return Yaml.Documents(output);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
