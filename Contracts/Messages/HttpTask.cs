namespace DistributedExecutor.Contracts.Messages;

/// <summary>What the HTTP executor calls. <paramref name="ExpectedStatus"/> holds inclusive ranges; empty means 200–299.</summary>
public sealed record HttpTask(
    string Method,
    string Url,
    IReadOnlyDictionary<string, string> Headers,
    byte[] Body,
    IReadOnlyList<StatusRange> ExpectedStatus,
    long ResponseCapBytes,
    int MaxRetries);
