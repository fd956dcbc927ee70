using System.Globalization;

namespace DistributedExecutor.Bench;

/// <summary>
/// The xargs -P baseline, sampled more than once and interleaved with the system's runs (before and after each
/// scenario), so one sample taken while the machine was busy (a broker booting) cannot decide a target alone.
/// Ratios use the median; the table shows the spread.
/// </summary>
internal sealed class XargsBaseline(int echoes, int parallel, Report report)
{
    private readonly List<double> _samples = [];

    public int Parallel => parallel;

    public double Median => Scenarios.Percentile(_samples, 50);

    public string Name => $"xargs -P{parallel}";

    /// <summary>How the baseline reads in the table: the median, with the spread and number of samples.</summary>
    public string Describe() => _samples.Count == 1
        ? $"{Name} (1 sample)"
        : $"{Name} (median of {_samples.Count}: {_samples.Min().ToString("#,0", CultureInfo.InvariantCulture)}–{_samples.Max().ToString("#,0", CultureInfo.InvariantCulture)})";

    public async Task SampleAsync(string when)
    {
        var rate = await Baselines.XargsAsync(echoes, parallel, report);
        _samples.Add(rate);
        Report.Progress($"{Name} {when}: {rate:0} echo/s");
    }

    public IReadOnlyList<double> Samples => _samples;
}
