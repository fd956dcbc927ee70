using System.CommandLine;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli.Commands;

/// <summary><c>distctl whoami</c>: the name and roles the master knows this token by.</summary>
internal static class WhoAmICommand
{
    public static Command Create()
    {
        var whoami = new Command("whoami", "Print the name and roles of your token, as the master knows it");
        whoami.SetAction((result, cancellationToken) => CliErrors.Guard(async () =>
        {
            using var master = GlobalOptions.Connect(result);
            var me = await master.Jobs.WhoAmIAsync(new WhoAmIRequest(), cancellationToken: cancellationToken).ConfigureAwait(false);
            Console.Out.WriteLine(Formatting.Safe(me.Name.Length > 0
                ? $"{me.Name} ({string.Join(", ", me.Roles)})"
                : "no token needed: this master has none (loopback only); anyone here may do anything"));
            return ExitCodes.Success;
        }));
        return whoami;
    }
}
