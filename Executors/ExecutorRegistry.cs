using System.Text.RegularExpressions;
using DistributedExecutor.Contracts.Executors;

namespace DistributedExecutor.Executors;

/// <summary>Executors by name. Adding one means registering another <see cref="ITaskExecutor"/>, nothing else.</summary>
internal sealed partial class ExecutorRegistry
{
    private readonly Dictionary<string, ITaskExecutor> _byName = new(StringComparer.Ordinal);

    public ExecutorRegistry(IEnumerable<ITaskExecutor> executors)
    {
        foreach (var executor in executors)
        {
            if (!ValidName().IsMatch(executor.Name ?? ""))
            {
                throw new InvalidOperationException($"executor {executor.GetType().FullName} has the name \"{executor.Name}\"; names are 1-63 of a-z, 0-9 and '-'");
            }

            if (_byName.TryGetValue(executor.Name!, out var existing))
            {
                throw new InvalidOperationException($"two executors are named \"{executor.Name}\": {existing.GetType().FullName} and {executor.GetType().FullName}");
            }

            _byName[executor.Name!] = executor;
        }
    }

    public IReadOnlyCollection<string> Names => _byName.Keys;

    public ITaskExecutor? Find(string name) => _byName.GetValueOrDefault(name);

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$")]
    private static partial Regex ValidName();
}
