namespace DistributedExecutor.Contracts.Messages;

/// <summary>An inclusive range of HTTP status codes.</summary>
public sealed record StatusRange(int Min, int Max);
