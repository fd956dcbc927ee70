using YamlDotNet.RepresentationModel;

namespace DistributedExecutor.Tests.Deploy;

/// <summary>Small helpers over YamlDotNet's representation model.</summary>
public static class Yaml
{
    public static List<YamlMappingNode> Documents(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return [.. stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>()];
    }

    public static YamlNode? At(this YamlNode node, params string[] path)
    {
        var current = node;
        foreach (var key in path)
        {
            if (current is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var next))
            {
                return null;
            }

            current = next;
        }

        return current;
    }

    public static string? Text(this YamlNode node, params string[] path) => (node.At(path) as YamlScalarNode)?.Value;

    public static IEnumerable<YamlNode> Items(this YamlNode node, params string[] path) =>
        node.At(path) is YamlSequenceNode sequence ? sequence.Children : [];

    public static string Kind(this YamlMappingNode document) => document.Text("kind") ?? "";

    public static string Name(this YamlMappingNode document) => document.Text("metadata", "name") ?? "";

    /// <summary>Every container env entry name/value in a pod spec, wherever it sits in the object.</summary>
    public static IEnumerable<(string Name, string? Value)> EnvOf(YamlNode podSpec) =>
        podSpec.Items("containers").SelectMany(c => c.Items("env")).Select(e => (e.Text("name")!, e.Text("value")));
}
