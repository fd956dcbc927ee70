namespace DistributedExecutor.Executors.Http;

/// <summary>The HTTP executor's switches and address policy (EXECUTOR_HTTP_*).</summary>
internal sealed class HttpExecutorOptions
{
    /// <summary>The address ranges refused when EXECUTOR_HTTP_BLOCKED is unset.</summary>
    public static readonly IReadOnlyList<string> DefaultBlocked = ["metadata", "link-local"];

    /// <summary>EXECUTOR_HTTP_ENABLED: run HTTP tasks at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>EXECUTOR_HTTP_ALLOWED: CIDRs or range names (loopback, private, link-local, metadata); when set, only these may be reached.</summary>
    public IReadOnlyList<string> Allowed { get; set; } = [];

    /// <summary>EXECUTOR_HTTP_BLOCKED: CIDRs or range names never connected to; default metadata,link-local.</summary>
    public IReadOnlyList<string> Blocked { get; set; } = DefaultBlocked;
}
