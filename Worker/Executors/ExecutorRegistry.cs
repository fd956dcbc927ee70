namespace DistributedExecutor.Worker.Executors;

/// <summary>Executors by name. Adding one means registering another <see cref="ITaskExecutor"/>, nothing else.</summary>
internal sealed class ExecutorRegistry(IEnumerable<ITaskExecutor> executors)
{
    private readonly Dictionary<string, ITaskExecutor> _byName =
        executors.ToDictionary(e => e.Name, StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => _byName.Keys;

    public ITaskExecutor? Find(string name) => _byName.GetValueOrDefault(name);
}
