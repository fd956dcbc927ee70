using YamlDotNet.RepresentationModel;

namespace DistributedExecutor.Cli;

/// <summary>
/// Named masters in <c>~/.config/distctl/config.yaml</c> (or <c>$XDG_CONFIG_HOME/distctl/config.yaml</c>, or the file
/// <c>DISTEXEC_CONFIG</c> names), as kubectl keeps clusters:
/// <code>
/// current-context: prod
/// contexts:
///   prod:  { master: https://dx.example:50051, token-file: ~/.config/distctl/prod.token, ca-cert: ~/.config/distctl/prod-ca.pem }
///   local: { master: localhost:50051 }
/// </code>
/// <c>--context NAME</c> or <c>DISTEXEC_CONTEXT</c> picks one, else current-context. A flag or variable given for
/// the same setting wins over the context.
/// </summary>
internal sealed record CliContext(string Name, string? Master, string? TokenFile, string? CaCert)
{
    private static readonly string[] Keys = ["master", "token-file", "ca-cert"];

    public static string ConfigPath =>
        Environment.GetEnvironmentVariable("DISTEXEC_CONFIG") is { Length: > 0 } path ? path
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config"), "distctl", "config.yaml");

    /// <summary>The context asked for (<paramref name="name"/>, else the file's current-context), or null without a file or choice.</summary>
    public static CliContext? Load(string? name)
    {
        var path = ConfigPath;
        if (!File.Exists(path))
        {
            return name is null ? null : throw new UsageException($"--context {name}: there is no {path}");
        }

        YamlMappingNode root;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(File.ReadAllText(path)));
            root = stream.Documents.Count == 0 ? new YamlMappingNode() : stream.Documents[0].RootNode as YamlMappingNode
                ?? throw new UsageException($"{path}: expected a mapping with contexts and current-context");
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            throw new UsageException($"{path}: not valid YAML ({ex.Start.Line}:{ex.Start.Column}): {ex.Message}");
        }

        name ??= Scalar(root, "current-context");
        if (name is null)
        {
            return null;
        }

        var contexts = Child(root, "contexts") as YamlMappingNode;
        if (contexts is null || Child(contexts, name) is not YamlMappingNode context)
        {
            var known = contexts?.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value).ToList() ?? [];
            throw new UsageException($"context \"{name}\" is not in {path}{(known.Count > 0 ? $" (it has: {string.Join(", ", known)})" : "")}");
        }

        foreach (var key in context.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value!).Where(k => !Keys.Contains(k)))
        {
            throw new UsageException($"{path}: context \"{name}\" has \"{key}\"; a context knows {string.Join(", ", Keys)}");
        }

        return new CliContext(name, Scalar(context, "master"), Home(Scalar(context, "token-file")), Home(Scalar(context, "ca-cert")));
    }

    private static YamlNode? Child(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string? Scalar(YamlMappingNode node, string key) => (Child(node, key) as YamlScalarNode)?.Value is { Length: > 0 } value ? value : null;

    private static string? Home(string? path) =>
        path is not null && path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..])
            : path;
}
