using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli;

/// <summary>
/// Cuts a job's output into line pieces per (task, stream), so a batch's lines can start with "[item] " however
/// the chunks split them. Used for live output (run --wait, logs -f) and for logs --tail alike.
/// </summary>
internal sealed class LinePrefixer(IReadOnlyList<string>? prefixes)
{
    private readonly Dictionary<(int, OutputStream), bool> atLineStart = [];

    /// <summary>Whether lines get a prefix at all (a batch or an --all-workers job).</summary>
    public bool Prefixed => prefixes is not null;

    /// <summary>"[item] " for the task, "" when the job is not a batch.</summary>
    public byte[] PrefixOf(int taskIndex) => prefixes is null ? []
        : System.Text.Encoding.UTF8.GetBytes($"[{(taskIndex < prefixes.Count ? prefixes[taskIndex] : taskIndex.ToString(System.Globalization.CultureInfo.InvariantCulture))}] ");

    /// <summary>The chunk's bytes in pieces of at most one line: whether a piece starts a line, and whether it ends one ('\n' included).</summary>
    public IEnumerable<(ReadOnlyMemory<byte> Bytes, bool StartsLine, bool EndsLine)> Pieces(OutputChunk chunk)
    {
        var key = (chunk.TaskIndex, chunk.Stream);
        var data = chunk.Data.Memory;
        var start = atLineStart.GetValueOrDefault(key, true);
        while (data.Length > 0)
        {
            var newline = data.Span.IndexOf((byte)'\n');
            var line = newline < 0 ? data : data[..(newline + 1)];
            yield return (line, start, newline >= 0);
            start = newline >= 0;
            data = data[line.Length..];
        }

        atLineStart[key] = start;
    }
}
