using DistributedExecutor.Hosting;
using DistributedExecutor.Hosting.Settings;
using DistributedExecutor.Master.Options;
using DistributedExecutor.Worker.Extensions;
using DistributedExecutor.Worker.Options;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace DistributedExecutor.Tests.Deploy;

/// <summary>The environment variable names master and worker actually read, found by running their options loaders.</summary>
public static class ProgramSettings
{
    public static IReadOnlySet<string> Names { get; } = Read();

    private static HashSet<string> Read()
    {
        var recorder = new RecordingConfiguration();
        var settings = new SettingsReader(recorder);
        MasterOptions.Load(settings);
        WorkerOptions.Load(settings, requireMaster: true);
        return recorder.Keys;
    }

    private sealed class RecordingConfiguration : IConfiguration
    {
        public HashSet<string> Keys { get; } = new(StringComparer.Ordinal);

        public string? this[string key]
        {
            get
            {
                Keys.Add(key);
                return null;
            }

            set => throw new NotSupportedException();
        }

        public IEnumerable<IConfigurationSection> GetChildren() => [];

        public IChangeToken GetReloadToken() => throw new NotSupportedException();

        public IConfigurationSection GetSection(string key) => throw new NotSupportedException();
    }
}
