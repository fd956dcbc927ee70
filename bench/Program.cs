using DistributedExecutor.Bench;

// make bench: every figure next to a baseline measured in this same run, as a table and as JSON.
var settings = BenchSettings.FromEnvironment();
var report = new Report(settings);
try
{
    await Scenarios.RunAllAsync(settings, report);
}
catch (Exception ex)
{
    report.Fail(ex);
}

report.Print(Console.Out);
await report.WriteJsonAsync();
return report.Passed ? 0 : 1;
