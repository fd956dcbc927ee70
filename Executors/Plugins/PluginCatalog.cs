using System.Reflection;
using DistributedExecutor.Contracts.Executors;

namespace DistributedExecutor.Executors.Plugins;

/// <summary>
/// The executor types found in EXECUTOR_PLUGINS_DIR: every public, concrete <see cref="ITaskExecutor"/> in the
/// folder's assemblies. Each is created through dependency injection like a built-in (it may ask for an
/// <c>ILogger&lt;T&gt;</c> or <c>TimeProvider</c>). Problems are collected so start-up can report them all.
/// </summary>
internal sealed class PluginCatalog
{
    private PluginCatalog(IReadOnlyList<Type> types, IReadOnlyList<string> problems)
    {
        Types = types;
        Problems = problems;
    }

    public static PluginCatalog Empty { get; } = new([], []);

    public IReadOnlyList<Type> Types { get; }

    public IReadOnlyList<string> Problems { get; }

    public static PluginCatalog Load(string? directory)
    {
        if (directory is null || !Directory.Exists(directory))
        {
            return Empty;
        }

        var types = new List<Type>();
        var problems = new List<string>();
        foreach (var path in Directory.EnumerateFiles(Path.GetFullPath(directory), "*.dll").Order(StringComparer.Ordinal))
        {
            try
            {
                var assembly = new PluginLoadContext(path).LoadFromAssemblyPath(path);
                var found = assembly.GetExportedTypes()
                    .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(ITaskExecutor).IsAssignableFrom(t))
                    .ToList();
                types.AddRange(found);
            }
            catch (Exception ex) when (ex is BadImageFormatException or FileLoadException or FileNotFoundException or ReflectionTypeLoadException or TypeLoadException)
            {
                // A dependency of the plug-in that is not beside it lands here too; say which file.
                problems.Add($"EXECUTOR_PLUGINS_DIR: {Path.GetFileName(path)} could not be loaded: {ex.Message}");
            }
        }

        return new PluginCatalog(types, problems);
    }
}
