using System.Reflection;
using System.Runtime.Loader;

namespace DistributedExecutor.Executors.Plugins;

/// <summary>
/// Loads one plug-in assembly and its private dependencies in isolation. Assemblies the host already has
/// (the contracts with <c>ITaskExecutor</c>, the framework) come from the host, so types match.
/// </summary>
internal sealed class PluginLoadContext(string assemblyPath) : AssemblyLoadContext($"distexec-plugin:{Path.GetFileName(assemblyPath)}")
{
    private readonly AssemblyDependencyResolver _resolver = new(assemblyPath);

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (Default.Assemblies.Any(a => AssemblyName.ReferenceMatchesDefinition(assemblyName, a.GetName())))
        {
            return null;
        }

        var path = _resolver.ResolveAssemblyToPath(assemblyName);
        if (path is null)
        {
            var sibling = Path.Combine(Path.GetDirectoryName(assemblyPath)!, assemblyName.Name + ".dll");
            path = File.Exists(sibling) ? sibling : null;
        }

        return path is null ? null : LoadFromAssemblyPath(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
        _resolver.ResolveUnmanagedDllToPath(unmanagedDllName) is { } path ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;
}
