using DistributedExecutor.Cli;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Tests.Cli;

public sealed class ExitCodeTests
{
    [Fact]
    public void ExitCodeOf_FailedWithCode_PassesThrough() =>
        Assert.Equal(3, JobWatcher.ExitCodeOf(Job(TaskState.Failed, t => t.ExitCode = 3)));

    [Theory]
    [InlineData(9, 137)]
    [InlineData(15, 143)]
    [InlineData(6, 134)]
    public void ExitCodeOf_KilledBySignal_128PlusTheSignal(int signal, int expected) =>
        // No exit code of its own (a signaled process has none): the signal alone decides.
        Assert.Equal(expected, JobWatcher.ExitCodeOf(Job(TaskState.Failed, t => t.Signal = signal)));

    [Fact]
    public void ExitCodeOf_SignalWinsOverAnExitCodeField() =>
        Assert.Equal(143, JobWatcher.ExitCodeOf(Job(TaskState.Failed, t => { t.ExitCode = 1; t.Signal = 15; })));

    [Fact]
    public void ExitCodeOf_TimedOut_124() => Assert.Equal(ExitCodes.TimedOut, JobWatcher.ExitCodeOf(Job(TaskState.TimedOut, _ => { })));

    [Fact]
    public void ExitCodeOf_Canceled_130() => Assert.Equal(ExitCodes.Canceled, JobWatcher.ExitCodeOf(Job(TaskState.Canceled, _ => { })));

    [Fact]
    public void ExitCodeOf_CouldNotStart_126() =>
        Assert.Equal(ExitCodes.CouldNotStart, JobWatcher.ExitCodeOf(Job(TaskState.Failed, t => t.FailureKind = FailureKind.CouldNotStart)));

    [Fact]
    public void ExitCodeOf_Refused_125() =>
        Assert.Equal(ExitCodes.Rejected, JobWatcher.ExitCodeOf(Job(TaskState.Failed, t => t.FailureKind = FailureKind.Refused)));

    [Fact]
    public void ExitCodeOf_TheKindNotTheWording()
    {
        // An error text that merely reads like a kind (a task's own message, another language) maps to nothing.
        Assert.Equal(ExitCodes.Failure, JobWatcher.ExitCodeOf(Job(TaskState.Failed, t => t.Error = "could not start: as the task said")));
        Assert.Equal(ExitCodes.CouldNotStart, JobWatcher.ExitCodeOf(Job(TaskState.Failed, t => { t.Error = "konnte nicht starten"; t.FailureKind = FailureKind.CouldNotStart; })));
    }

    [Fact]
    public void ExitCodeOf_Succeeded_Zero() => Assert.Equal(0, JobWatcher.ExitCodeOf(Job(TaskState.Succeeded, t => t.ExitCode = 0)));

    [Theory]
    [InlineData("90", 90)]
    [InlineData("30s", 30)]
    [InlineData("5m", 300)]
    [InlineData("1h30m", 5400)]
    [InlineData("500ms", 0.5)]
    public void Duration_Parses(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), DurationParser.Parse(text));

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("5 minutes")]
    [InlineData("m5")]
    public void Duration_Rejects(string text) => Assert.Throws<FormatException>(() => DurationParser.Parse(text));

    [Theory]
    [InlineData("localhost:50051", "http://localhost:50051/")]
    [InlineData(":50051", "http://localhost:50051/")]
    [InlineData("127.0.0.1:7", "http://127.0.0.1:7/")]
    [InlineData("http://h:1", "http://h:1/")]
    public void MasterAddress_Parses(string address, string uri) => Assert.Equal(new Uri(uri), MasterConnection.ToUri(address));

    private static Job Job(TaskState state, Action<JobTask> configure)
    {
        var task = new JobTask { State = state };
        configure(task);
        var job = new Job { State = state };
        job.Tasks.Add(task);
        return job;
    }
}
