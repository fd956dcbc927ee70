namespace DistributedExecutor.Executors;

/// <summary>Text checks shared by the spec rules and the master's errors.</summary>
internal static class SpecText
{
    /// <summary>Protobuf turns bytes that are not UTF-8 into U+FFFD; such text never means what the sender meant.</summary>
    public static bool HasInvalidUtf8(string value) => value.Contains('\uFFFD');

    /// <summary>A value safe to echo in an error: control characters shown as '?', long values cut.</summary>
    public static string Printable(string value)
    {
        var cut = value.Length > 80 ? value[..80] + "…" : value;
        return new string([.. cut.Select(c => char.IsControl(c) ? '?' : c)]);
    }
}
