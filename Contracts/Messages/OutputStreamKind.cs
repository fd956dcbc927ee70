namespace DistributedExecutor.Contracts.Messages;

/// <summary>Which stream an output chunk came from (values match the proto enum).</summary>
public enum OutputStreamKind
{
    Stdout = 1,
    Stderr = 2,
}
