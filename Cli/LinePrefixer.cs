using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Cli;

/// <summary>
/// Cuts a job's output into line pieces per (task, stream), so a batch's lines can start with "[item] " (and, with
/// timestamps, the time the worker read them) however the chunks split them. Used for live output (run --wait,
/// logs -f) and for logs --tail alike.
/// </summary>
internal sealed class LinePrefixer(IReadOnlyList<string>? prefixes, bool timestamps = false)
{
    private readonly Dictionary<(int, OutputStream), bool> atLineStart = [];

    /// <summary>Whether lines get a prefix at all (a batch, an --all-workers job, or timestamps).</summary>
    public bool Prefixed => prefixes is not null || timestamps;

    /// <summary>"2026-11-28T04:55:27.123+00:00 [item] " for a line starting in this chunk; parts not asked for are left out.</summary>
    public byte[] PrefixOf(OutputChunk chunk)
    {
        var time = !timestamps ? ""
            : chunk.At is { } at ? at.ToDateTimeOffset().ToLocalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffzzz ", System.Globalization.CultureInfo.InvariantCulture)
            : "-                             ";
        var item = prefixes is null ? ""
            : $"[{(chunk.TaskIndex < prefixes.Count ? prefixes[chunk.TaskIndex] : chunk.TaskIndex.ToString(System.Globalization.CultureInfo.InvariantCulture))}] ";
        return System.Text.Encoding.UTF8.GetBytes(time + item);
    }

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
