using System.Diagnostics;
using DistributedExecutor.Tests.Fixtures;

namespace DistributedExecutor.Bench;

/// <summary>What the figures are compared with, measured in the same run on the same machine.</summary>
internal static class Baselines
{
    /// <summary>xargs -P running the same echo commands locally: echoes per second (output checked).</summary>
    public static async Task<double> XargsAsync(int count, int parallel, Report report)
    {
        var startInfo = new ProcessStartInfo("xargs")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { $"-P{parallel}", "-n1", "echo" })
        {
            startInfo.ArgumentList.Add(arg);
        }

        var input = string.Join('\n', Enumerable.Range(0, count)) + "\n";
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(startInfo)!;
        var output = process.StandardOutput.ReadToEndAsync();
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        var lines = (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        clock.Stop();
        var distinct = lines.Distinct().Count();
        report.Check("baseline xargs echoed every number once", process.ExitCode == 0 && lines.Length == count && distinct == count,
            $"{lines.Length} lines, {distinct} distinct, exit {process.ExitCode}");
        return count / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Milliseconds to spawn /bin/echo and read its output here, once per sample.</summary>
    public static async Task<List<double>> SpawnEchoMillisecondsAsync(int samples)
    {
        var times = new List<double>(samples);
        for (var i = 0; i < samples; i++)
        {
            var clock = Stopwatch.StartNew();
            using var process = Process.Start(new ProcessStartInfo("echo", [i.ToString(System.Globalization.CultureInfo.InvariantCulture)])
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            })!;
            await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            times.Add(clock.Elapsed.TotalMilliseconds);
        }

        return times;
    }

    /// <summary>Wall times in milliseconds of running a program to its end, after one untimed warm-up run.</summary>
    public static async Task<List<double>> WallTimesAsync(int runs, string program, string[] args, IReadOnlyDictionary<string, string?>? environment, Action<CliResult> check)
    {
        await ProcessRunner.RunAsync(program, args, environment);
        var times = new List<double>(runs);
        for (var i = 0; i < runs; i++)
        {
            var clock = Stopwatch.StartNew();
            var result = await ProcessRunner.RunAsync(program, args, environment);
            times.Add(clock.Elapsed.TotalMilliseconds);
            check(result);
        }

        return times;
    }

    /// <summary>The empty console program make bench publishes next to the benchmark (bench/Empty).</summary>
    public static string EmptyProgramPath()
    {
        var path = Path.Combine(RepoPaths.Root, "out", "bench-empty", "empty");
        return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: run the benchmark with 'make bench'");
    }

    /// <summary>Resident memory of a process (VmRSS).</summary>
    public static long ResidentBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kib = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
                return kib * 1024;
            }
        }

        throw new InvalidOperationException($"no VmRSS for process {pid}");
    }
}
