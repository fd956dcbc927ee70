using System.Reflection;

namespace DistributedExecutor.Hosting;

/// <summary>
/// The version every program of the project reports: Directory.Build.props' Version, which is also the chart's
/// appVersion and the images' default tag (a test keeps them equal).
/// </summary>
public static class ProgramVersion
{
    /// <summary>The response header the master puts on every answer, so a client learns the server's version.</summary>
    public const string Header = "distexec-version";

    public static string Of(Assembly assembly) =>
        (assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? assembly.GetName().Version?.ToString() ?? "unknown")
            .Split('+')[0];
}
