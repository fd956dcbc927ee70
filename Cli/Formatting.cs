using System.Globalization;
using DistributedExecutor.Contracts.V1;
using Google.Protobuf.WellKnownTypes;

namespace DistributedExecutor.Cli;

/// <summary>How states and times read in the terminal.</summary>
internal static class Formatting
{
    public static string State(TaskState state) => state switch
    {
        TaskState.Queued => "Queued",
        TaskState.Running => "Running",
        TaskState.Succeeded => "Succeeded",
        TaskState.Failed => "Failed",
        TaskState.TimedOut => "TimedOut",
        TaskState.Canceled => "Canceled",
        TaskState.Lost => "Lost",
        TaskState.Scheduled => "Scheduled",
        TaskState.Waiting => "Waiting",
        _ => "-",
    };

    /// <summary>
    /// Whether states are coloured: standard output is a terminal that can show colour, and NO_COLOR
    /// (https://no-color.org) is unset or empty.
    /// </summary>
    public static bool Colour { get; } = !Console.IsOutputRedirected
        && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"))
        && Environment.GetEnvironmentVariable("TERM") is not "dumb";

    /// <summary>The state padded to <paramref name="width"/>, in its colour on a terminal (green done, red failed, …).</summary>
    public static string StateCell(TaskState state, int width = 0) => Paint(State(state).PadRight(width), state switch
    {
        TaskState.Succeeded => 32,
        TaskState.Failed or TaskState.TimedOut or TaskState.Lost => 31,
        TaskState.Running => 36,
        TaskState.Queued => 33,
        TaskState.Canceled => 35,
        TaskState.Scheduled or TaskState.Waiting => 34,
        _ => 0,
    });

    public static string StateCell(WorkerState state, int width = 0) => Paint(State(state).PadRight(width), state switch
    {
        WorkerState.Alive => 32,
        WorkerState.Draining => 33,
        WorkerState.Lost => 31,
        _ => 0,
    });

    // Padding stays outside the colour, so columns line up whatever the terminal makes of the codes.
    private static string Paint(string padded, int sgr)
    {
        if (!Colour || sgr == 0)
        {
            return padded;
        }

        var text = padded.TrimEnd();
        return $"\u001b[{sgr}m{text}\u001b[0m{padded[text.Length..]}";
    }

    public static string State(WorkerState state) => state switch
    {
        WorkerState.Alive => "Alive",
        WorkerState.Draining => "Draining",
        WorkerState.Lost => "Lost",
        _ => "-",
    };

    public static string Time(Timestamp? time) =>
        time is null ? "-" : time.ToDateTimeOffset().ToLocalTime().ToString("yyyy-MM-dd HH:mm:sszzz", CultureInfo.InvariantCulture);

    /// <summary>A span as people read it: 45s, 3m20s, 1h05m.</summary>
    public static string Span(TimeSpan span) =>
        span.TotalSeconds < 60 ? $"{Math.Ceiling(span.TotalSeconds):0}s"
        : span.TotalHours < 1 ? $"{(int)span.TotalMinutes}m{span.Seconds:00}s"
        : $"{(int)span.TotalHours}h{span.Minutes:00}m";

    public static string Duration(Timestamp? start, Timestamp? end)
    {
        if (start is null)
        {
            return "-";
        }

        var span = (end?.ToDateTimeOffset() ?? DateTimeOffset.UtcNow) - start.ToDateTimeOffset();
        return span.TotalSeconds < 60
            ? span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s"
            : span.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture);
    }

    public static string Command(TaskSpec spec) => spec.ExecutorCase switch
    {
        TaskSpec.ExecutorOneofCase.Command => string.Join(' ', new[] { spec.Command.Program }.Concat(spec.Command.Args).Select(Quote)),
        _ => spec.ExecutorCase.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// Remote strings (errors, labels, ids, commands) as text that cannot drive the terminal: control characters
    /// and bidirectional overrides become visible escapes (\x1b, \u202e). Task output is not passed through this.
    /// </summary>
    public static string Safe(string text)
    {
        if (!text.Any(NeedsEscape))
        {
            return text;
        }

        var builder = new System.Text.StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (!NeedsEscape(c))
            {
                builder.Append(c);
            }
            else if (c < 0x100)
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
            else
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
        }

        return builder.ToString();
    }

    private static bool NeedsEscape(char c) => char.IsControl(c) || c is (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069');

    private static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsLetterOrDigit(c) || "-_./=:,@%+".Contains(c)) ? word : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
