using Grpc.Core;

namespace DistributedExecutor.Cli;

/// <summary>Turns every failure into one line on stderr and an exit code; never a stack trace.</summary>
internal static class CliErrors
{
    public static async Task<int> Guard(Func<Task<int>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            var (code, text) = Describe(ex);
            Console.Error.WriteLine(Formatting.Safe($"distctl: {text}"));
            return code;
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine($"distctl: {ex.Message}");
            return ExitCodes.Usage;
        }
        catch (FormatException ex)
        {
            Console.Error.WriteLine($"distctl: {ex.Message}");
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("distctl: interrupted");
            return ExitCodes.Canceled;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"distctl: {ex.GetBaseException().Message}");
            return ExitCodes.Failure;
        }
    }

    public static (int Code, string Text) Describe(RpcException ex) => ex.StatusCode switch
    {
        _ when Has<System.Security.Authentication.AuthenticationException>(ex.Status.DebugException) =>
            (ExitCodes.Unavailable, "cannot reach the master over TLS: its certificate is not trusted (pass the CA with --ca-cert or DISTEXEC_CA_CERT)"),
        StatusCode.Unavailable when ex.Status.DebugException is not null || ex.Status.Detail.StartsWith("Error connecting", StringComparison.Ordinal) =>
            (ExitCodes.Unavailable, $"cannot reach the master: {ex.Status.Detail}"),
        StatusCode.Unavailable => (ExitCodes.Unavailable, ex.Status.Detail),
        StatusCode.DeadlineExceeded => (ExitCodes.Unavailable, "the master did not answer in time"),
        StatusCode.InvalidArgument or StatusCode.PermissionDenied or StatusCode.ResourceExhausted or StatusCode.Unauthenticated or StatusCode.FailedPrecondition =>
            (ExitCodes.Rejected, $"{Name(ex.StatusCode)}: {ex.Status.Detail}"),
        StatusCode.NotFound => (ExitCodes.Failure, ex.Status.Detail),
        _ => (ExitCodes.Failure, $"{Name(ex.StatusCode)}: {ex.Status.Detail}"),
    };

    private static string Name(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument => "invalid",
        StatusCode.PermissionDenied => "permission denied",
        StatusCode.ResourceExhausted => "over capacity",
        StatusCode.Unauthenticated => "unauthenticated",
        StatusCode.FailedPrecondition => "cannot run here",
        _ => code.ToString(),
    };

    private static bool Has<T>(Exception? ex)
        where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is T)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>A command line that parses but makes no sense.</summary>
internal sealed class UsageException(string message) : Exception(message);
