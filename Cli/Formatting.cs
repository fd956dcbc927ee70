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
        _ => "-",
    };

    public static string State(WorkerState state) => state switch
    {
        WorkerState.Alive => "Alive",
        WorkerState.Draining => "Draining",
        WorkerState.Lost => "Lost",
        _ => "-",
    };

    public static string Time(Timestamp? time) =>
        time is null ? "-" : time.ToDateTimeOffset().ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);

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

    private static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsLetterOrDigit(c) || "-_./=:,@%+".Contains(c)) ? word : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
