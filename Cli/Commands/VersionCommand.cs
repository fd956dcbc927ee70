using System.CommandLine;
using System.Reflection;
using DistributedExecutor.Contracts.V1;
using Grpc.Core;

namespace DistributedExecutor.Cli.Commands;

/// <summary><c>distctl version</c>: this client's version and the master's (from the header it puts on every answer).</summary>
internal static class VersionCommand
{
    /// <summary>The master's response header with its version (Hosting's ProgramVersion.Header).</summary>
    private const string ServerHeader = "distexec-version";

    public static Command Create()
    {
        var version = new Command("version", "Print the versions of distctl and of the master it talks to");
        version.SetAction((result, _) => CliErrors.Guard(async () =>
        {
            var client = (typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown").Split('+')[0];
            Console.Out.WriteLine($"client: {client}");
            using var master = GlobalOptions.Connect(result);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Interrupts.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            using var call = master.Jobs.ListJobsAsync(new ListJobsRequest { PageSize = 1 }, cancellationToken: timeout.Token);
            string? server;
            try
            {
                server = (await call.ResponseHeadersAsync.ConfigureAwait(false)).GetValue(ServerHeader);
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied)
            {
                // The header rides on the refusal too.
                server = ex.Trailers.GetValue(ServerHeader);
            }

            Console.Out.WriteLine($"server: {server ?? "unknown (the master did not say)"} ({master.Address})");
            return ExitCodes.Success;
        }));
        return version;
    }
}
