namespace DistributedExecutor.Executors.Http;

/// <summary>Raised from the connect callback when every address of a host is refused by policy.</summary>
internal sealed class BlockedAddressException(string message) : IOException(message);
