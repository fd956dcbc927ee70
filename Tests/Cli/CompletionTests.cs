using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Tests.Cli;

/// <summary>The completion script bash gets from bin/distctl, run in a real bash: verbs and options complete.</summary>
[Trait("Category", "EndToEnd")]
public sealed class CompletionTests
{
    [Theory]
    [InlineData("distctl ru", "run")]
    [InlineData("distctl run --wa", "--wait")]
    [InlineData("distctl logs abcd --ta", "--tail")]
    public async Task Bash_CompletesVerbsAndOptions(string line, string expected)
    {
        var script = $$"""
            source <(distctl completion bash)
            COMP_LINE='{{line}}'
            COMP_POINT=${#COMP_LINE}
            _distctl_complete
            printf '%s\n' "${COMPREPLY[@]}"
            """;
        var result = await ProcessRunner.RunAsync("bash", ["-c", script], new Dictionary<string, string?>
        {
            ["PATH"] = $"{Path.GetDirectoryName(RepoPaths.Bin("distctl"))}:{Environment.GetEnvironmentVariable("PATH")}",
        });

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(expected, result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("zsh", "compdef _distctl distctl")]
    [InlineData("fish", "complete -c distctl")]
    public async Task OtherShells_GetTheirScript(string shell, string marker)
    {
        var result = await ProcessRunner.RunAsync(RepoPaths.Bin("distctl"), ["completion", shell]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(marker, result.Stdout, StringComparison.Ordinal);
        Assert.Contains("[suggest:", result.Stdout, StringComparison.Ordinal);
    }
}

/// <summary>The batch progress line's text.</summary>
public sealed class ProgressLineTests
{
    [Fact]
    public void Line_CountsRateAndEta()
    {
        var counts = new DistributedExecutor.Contracts.V1.TaskCounts { Succeeded = 40, Failed = 2, Running = 8, Queued = 50 };

        var line = DistributedExecutor.Cli.Progress.Line(counts, 100, TimeSpan.FromSeconds(21));

        Assert.Equal("42/100 done (2 failed), 8 running, 50 queued, 2/s, ETA 29s", line);
    }
}
