using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Tests.Fixtures;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace DistributedExecutor.Tests.Observability;

/// <summary>
/// The dashboard in a real browser: Debian's headless Chromium driven by Playwright against a real master,
/// worker and RabbitMQ. Screenshots go to artifacts/screenshots/.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed partial class DashboardTests
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly string Screenshots = Path.Combine(RepoPaths.Root, "artifacts", "screenshots");

    [Fact]
    public async Task JobPage_TaskPrintingALineASecond_LinesAppearBeforeTheJobEnds()
    {
        await using var cluster = await Cluster.StartAsync(1);
        // Twenty seconds of output: a slow browser start on a busy machine still finds the job running.
        var job = await SubmitAsync(cluster, "sh", "-c", "i=1; while [ $i -le 20 ]; do echo line $i; echo warn $i >&2; i=$((i+1)); sleep 1; done");
        await using var browser = await BrowserAsync();
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });

        await page.GotoAsync(new Uri(cluster.HttpBase, $"ui#/jobs/{job.Id}").ToString());
        await page.Locator("#output .stdout", new() { HasTextString = "line 2" }).WaitForAsync(new() { Timeout = 30_000 });

        // Seen in the page while the job still runs: live, not at the end.
        var stateWhenSeen = (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = job.Id })).Job.State;
        Assert.Equal(TaskState.Running, stateWhenSeen);
        Assert.Equal("RUNNING", await page.Locator("#job-state").InnerTextAsync());
        Assert.DoesNotContain("line 20", await page.Locator("#output").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("warn 1", await page.Locator("#output .stderr").First.InnerTextAsync(), StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "job-running.png"), FullPage = true });

        await page.Locator("#job-state", new() { HasTextString = "SUCCEEDED" }).WaitForAsync(new() { Timeout = 60_000 });
        var stdout = string.Concat(await page.Locator("#output .stdout").AllInnerTextsAsync());
        Assert.Equal(string.Concat(Enumerable.Range(1, 20).Select(i => $"line {i}\n")), stdout);
        Assert.Contains(cluster.WorkerHttpPorts.Keys.Single(), await page.Locator("#task-table").InnerTextAsync(), StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "job-finished.png"), FullPage = true });
    }

    [Fact]
    public async Task JobsAndWorkers_FiltersQueueDepthAndWorkerCapacity()
    {
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string> { ["MAX_CONCURRENT_TASKS"] = "1" });
        var done = await SubmitAsync(cluster, "echo", "quick");
        await cluster.WaitForJobAsync(done.Id, TimeSpan.FromSeconds(30));
        var running = await SubmitAsync(cluster, "sleep", "20");
        var queued = await SubmitAsync(cluster, "sleep", "20");
        await cluster.WaitForJobAsync(running.Id, j => j.State == TaskState.Running, TimeSpan.FromSeconds(30), "the first sleep to run");
        await using var browser = await BrowserAsync();
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });

        await page.GotoAsync(new Uri(cluster.HttpBase, "ui").ToString());
        await page.Locator($"#jobs tr[data-job='{queued.Id}']").WaitForAsync(new() { Timeout = 30_000 });
        // Exactly "1" (a substring match would take 10 or 21 for it).
        await page.Locator(".pool[data-pool='default'] .queued", new() { HasTextRegex = ExactlyOne() }).WaitForAsync(new() { Timeout = 30_000 });
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "jobs.png"), FullPage = true });

        await page.SelectOptionAsync("#filter-state", "TASK_STATE_RUNNING");
        await page.Locator($"#jobs tr[data-job='{queued.Id}']").WaitForAsync(new() { State = WaitForSelectorState.Detached, Timeout = 30_000 });
        // The filtered rows come with the next fetch: the queued row can be gone while the table is still empty.
        await page.Locator($"#jobs tr[data-job='{running.Id}']").WaitForAsync(new() { Timeout = 30_000 });
        var rows = await page.Locator("#jobs tbody tr").AllInnerTextsAsync();
        Assert.Contains(rows, r => r.Contains(running.Id, StringComparison.Ordinal));
        Assert.DoesNotContain(rows, r => r.Contains(done.Id, StringComparison.Ordinal));

        await page.ClickAsync("#nav-workers");
        // Running / capacity comes with the next heartbeat: wait for it instead of reading the row once.
        var worker = page.Locator($"#workers tr[data-worker='{cluster.WorkerHttpPorts.Keys.Single()}']", new() { HasTextRegex = OneOfOne() });
        await worker.WaitForAsync(new() { Timeout = 30_000 });
        var text = await worker.InnerTextAsync();
        Assert.Contains("ALIVE", text, StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "workers.png"), FullPage = true });

        await cluster.Jobs.CancelJobAsync(new CancelJobRequest { JobId = running.Id });
        await cluster.Jobs.CancelJobAsync(new CancelJobRequest { JobId = queued.Id });
    }

    [Fact]
    public async Task ProtectedMaster_PageAsksForTheTokenAndShowsNothingWithoutIt()
    {
        const string token = "dashboard-test-token-1234567890";
        await using var cluster = await Cluster.StartAsync(0, new Dictionary<string, string> { ["API_TOKEN"] = token });
        // The cluster's own client carries the token.
        await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = new JobSpec { Tasks = { Echo() } } });
        await using var browser = await BrowserAsync();
        var page = await browser.NewPageAsync();

        await page.GotoAsync(new Uri(cluster.HttpBase, "ui").ToString());
        await page.Locator("#token-form").WaitForAsync(new() { Timeout = 30_000 });
        // The form shows first; the status line says why once the refused request's error has been handled.
        await Microsoft.Playwright.Assertions.Expect(page.Locator("#status")).ToContainTextAsync("API token", new() { Timeout = 30_000 });
        Assert.Equal(0, await page.Locator("#jobs tr[data-job]").CountAsync());

        await page.FillAsync("#token", token);
        await page.ClickAsync("#token-form button");
        await page.Locator("#jobs tr[data-job]").First.WaitForAsync(new() { Timeout = 30_000 });
    }

    [Fact]
    public async Task HistoryPage_ChartsTasksEndedAndQueueDepth_FromTheMastersRecords()
    {
        // A point a second instead of a minute, so the test sees several.
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string> { ["HISTORY_INTERVAL_SECONDS"] = "1" });
        foreach (var program in (string[])["true", "true", "false"])
        {
            await cluster.WaitForJobAsync((await SubmitAsync(cluster, program)).Id, TimeSpan.FromSeconds(30));
        }

        await using var browser = await BrowserAsync();
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });
        await page.GotoAsync(new Uri(cluster.HttpBase, "ui#/history").ToString());
        await page.Locator("#ended-totals", new() { HasTextString = "2 succeeded, 1 failed" }).WaitForAsync(new() { Timeout = 30_000 });
        Assert.True(await page.Locator("#chart-ended rect.bar-ok").CountAsync() > 0);
        Assert.True(await page.Locator("#chart-ended rect.bar-bad[height]").CountAsync() > 0);
        await page.Locator("#chart-queued polyline[data-pool='default']").WaitForAsync(new() { State = WaitForSelectorState.Attached, Timeout = 30_000 });
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "history.png"), FullPage = true });

        await page.ClickAsync("#window-day");
        await page.Locator("#window-day.active").WaitForAsync(new() { Timeout = 30_000 });
        Assert.Contains("1 day ago", await page.Locator("#chart-ended").InnerTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobsPage_FindsByLabelAndIdPrefix_PagesThroughOlderJobs()
    {
        // No workers: the jobs stay queued, which is all a list needs.
        await using var cluster = await Cluster.StartAsync(0);
        var team = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest
        {
            Spec = new JobSpec { Labels = { ["team"] = "data" }, Tasks = { new TaskSpec { Command = new CommandSpec { Program = "echo", Args = { "team-report" } } } } },
        })).Job;
        var batch = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = new JobSpec { Tasks = { new TaskSpec { Item = "db-7", Command = new CommandSpec { Program = "true" } } } } })).Job;
        var paged = new List<string>();
        for (var i = 0; i < 101; i++)
        {
            paged.Add((await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = new JobSpec { Labels = { ["page"] = "yes" }, Tasks = { Echo() } } })).Job.Id);
        }

        await using var browser = await BrowserAsync();
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });
        await page.GotoAsync(new Uri(cluster.HttpBase, "ui").ToString());
        await page.Locator("#jobs tr[data-job]").First.WaitForAsync(new() { Timeout = 30_000 });

        await page.FillAsync("#filter-label", "team=data");
        await page.DispatchEventAsync("#filter-label", "change");
        await page.Locator($"#jobs tr[data-job='{team.Id}'] .labels", new() { HasTextString = "team=data" }).WaitForAsync(new() { Timeout = 30_000 });
        Assert.Equal(1, await page.Locator("#jobs tr[data-job]").CountAsync());
        Assert.Equal("echo team-report", await page.Locator($"#jobs tr[data-job='{team.Id}'] .command").InnerTextAsync());
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "jobs-filtered.png"), FullPage = true });

        // Search: a command's text (any case), or a task's item.
        await page.FillAsync("#filter-label", "");
        await page.DispatchEventAsync("#filter-label", "change");
        await page.Locator("#jobs tr[data-job]").Nth(99).WaitForAsync(new() { Timeout = 30_000 });
        await page.FillAsync("#filter-search", "TEAM-REP");
        await page.DispatchEventAsync("#filter-search", "change");
        await page.Locator("#jobs tr[data-job]", new() { HasTextString = "team-report" }).WaitForAsync(new() { Timeout = 30_000 });
        Assert.Equal([team.Id], await page.Locator("#jobs tr[data-job]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.job)"));
        await page.FillAsync("#filter-search", "db-7");
        await page.DispatchEventAsync("#filter-search", "change");
        await page.Locator($"#jobs tr[data-job='{batch.Id}']").WaitForAsync(new() { Timeout = 30_000 });
        Assert.Equal(1, await page.Locator("#jobs tr[data-job]").CountAsync());
        await page.FillAsync("#filter-search", "");
        await page.DispatchEventAsync("#filter-search", "change");
        await page.Locator("#jobs tr[data-job]").Nth(99).WaitForAsync(new() { Timeout = 30_000 });

        // 101 jobs: the newest 100, then the oldest one on the next page, and back.
        await page.FillAsync("#filter-label", "page=yes");
        await page.DispatchEventAsync("#filter-label", "change");
        await page.Locator($"#jobs tr[data-job='{paged[^1]}']").WaitForAsync(new() { Timeout = 30_000 });
        Assert.Equal(100, await page.Locator("#jobs tr[data-job]").CountAsync());
        await page.ClickAsync("#older");
        await page.Locator($"#jobs tr[data-job='{paged[0]}']").WaitForAsync(new() { Timeout = 30_000 });
        Assert.Equal(1, await page.Locator("#jobs tr[data-job]").CountAsync());
        Assert.Equal(0, await page.Locator("#older").CountAsync());
        await page.ClickAsync("#newest");
        await page.Locator($"#jobs tr[data-job='{paged[^1]}']").WaitForAsync(new() { Timeout = 30_000 });

        // A prefix of an id goes to its job.
        await page.FillAsync("#find-id", team.Id[..8]);
        await page.PressAsync("#find-id", "Enter");
        await page.Locator("#job-id", new() { HasTextString = team.Id }).WaitForAsync(new() { Timeout = 30_000 });
    }

    [Fact]
    public async Task JobPage_CancelAndRerunOnlyForATokenThatMay_WhoDidItShown()
    {
        const string operatorToken = "dashboard-operator-token-0001", viewerToken = "dashboard-viewer-token-000001";
        using var folder = new TempDirectory("distexec-dashboard-tokens-");
        await File.WriteAllTextAsync(folder.File("tokens"), $"{TokenLine("olga", "operator", operatorToken)}\n{TokenLine("victor", "viewer", viewerToken)}\n");
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string>
        {
            ["TOKENS_FILE"] = folder.File("tokens"),
            ["API_TOKEN"] = "dashboard-fixture-api-token-01",
            ["WORKER_TOKEN"] = "dashboard-fixture-worker-token-1",
        });
        var sleeper = await SubmitAsync(cluster, "sleep", "300");
        await cluster.WaitForJobAsync(sleeper.Id, j => j.State == TaskState.Running, TimeSpan.FromSeconds(30), "the sleep to run");
        await using var browser = await BrowserAsync();

        // The viewer sees the job and who submitted it, and no button to change it.
        var viewer = await browser.NewPageAsync();
        await viewer.GotoAsync(new Uri(cluster.HttpBase, "ui").ToString());
        await viewer.EvaluateAsync($"sessionStorage.setItem('distexec-token', '{viewerToken}')");
        await viewer.GotoAsync(new Uri(cluster.HttpBase, $"ui#/jobs/{sleeper.Id}").ToString());
        await viewer.ReloadAsync();
        await viewer.Locator("#job-state", new() { HasTextString = "RUNNING" }).WaitForAsync(new() { Timeout = 30_000 });
        await viewer.Locator("#whoami", new() { HasTextString = "victor (viewer)" }).WaitForAsync(new() { Timeout = 30_000 });
        Assert.Contains("by api-token", await viewer.Locator("#job-meta").InnerTextAsync(), StringComparison.Ordinal);
        Assert.False(await viewer.Locator("#cancel-job").IsVisibleAsync());

        // The operator cancels, after confirming, and the page says who did; then re-runs what did not succeed.
        var operatorPage = await browser.NewPageAsync();
        var confirmations = new List<string>();
        operatorPage.Dialog += async (_, dialog) =>
        {
            confirmations.Add(dialog.Message);
            await dialog.AcceptAsync();
        };
        await operatorPage.GotoAsync(new Uri(cluster.HttpBase, "ui").ToString());
        await operatorPage.EvaluateAsync($"sessionStorage.setItem('distexec-token', '{operatorToken}')");
        await operatorPage.GotoAsync(new Uri(cluster.HttpBase, $"ui#/jobs/{sleeper.Id}").ToString());
        await operatorPage.ReloadAsync();
        await operatorPage.Locator("#cancel-job").WaitForAsync(new() { State = WaitForSelectorState.Visible, Timeout = 30_000 });
        await operatorPage.ClickAsync("#cancel-job");
        await operatorPage.Locator("#canceled-by", new() { HasTextString = "canceled by olga" }).WaitForAsync(new() { Timeout = 60_000 });
        Assert.Equal("olga", (await cluster.Jobs.GetJobAsync(new GetJobRequest { JobId = sleeper.Id })).Job.CanceledBy);
        await operatorPage.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "job-canceled-by.png"), FullPage = true });

        await operatorPage.ClickAsync("#rerun-failed");
        var rerun = (await Eventually.Until(
            async () => (await cluster.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { ["rerun-of"] = sleeper.Id } })).Jobs,
            jobs => jobs.Count > 0, TimeSpan.FromSeconds(30), "the re-run submitted")).Single();
        // The page goes to the new job.
        await operatorPage.Locator("#job-id", new() { HasTextString = rerun.Id }).WaitForAsync(new() { Timeout = 30_000 });
        Assert.Equal(("olga", 1), (rerun.SubmittedBy, rerun.TaskCount));
        Assert.Equal(2, confirmations.Count);
        Assert.False(await viewer.Locator("#rerun-failed").IsVisibleAsync());
        await cluster.Jobs.CancelJobAsync(new CancelJobRequest { JobId = rerun.Id });
    }

    [Fact]
    public async Task SchedulesPage_ListsFiresWithTheirJobs_PauseAndRunNow()
    {
        await using var cluster = await Cluster.StartAsync(1);
        var created = await cluster.DistctlAsync("schedule", "create", "heartbeat", "--cron", "*/2 * * * * *", "--overlap", "skip", "--", "echo", "tick");
        Assert.True(created.ExitCode == 0, created.ToString());
        await using var browser = await BrowserAsync();
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();

        // The list: cron, policies, and the last fire's job with its state, refreshed as ticks come.
        await page.GotoAsync(new Uri(cluster.HttpBase, "ui#/schedules").ToString());
        var row = page.Locator("tr[data-schedule='heartbeat']");
        await row.Locator("a[href^='#/jobs/']").WaitForAsync(new() { Timeout = 30_000 });
        Assert.Contains("*/2 * * * * *", await row.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("skip", await row.InnerTextAsync(), StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "schedules.png"), FullPage = true });

        // Its page: the fires, each with its job; pause stops them; run now submits one and goes to it.
        await row.Locator("a[href='#/schedules/heartbeat']").ClickAsync();
        await page.Locator("#fires a[href^='#/jobs/']").First.WaitForAsync(new() { Timeout = 30_000 });
        await page.ClickAsync("#schedule-pause");
        await page.Locator("h1 .state-PAUSED").WaitForAsync(new() { Timeout = 30_000 });
        Assert.True((await cluster.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = "heartbeat" })).Schedule.Paused);
        await page.ClickAsync("#schedule-trigger");
        await page.Locator("#job-state", new() { HasTextString = "SUCCEEDED" }).WaitForAsync(new() { Timeout = 30_000 });
        var triggered = (await cluster.Schedules.GetScheduleAsync(new GetScheduleRequest { Name = "heartbeat" })).Schedule.RecentFires[0];
        Assert.True(triggered.Manual);
        Assert.Contains(triggered.JobId, page.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobPage_OfAWorkflow_ListsItsRunInOrderWithStatesAndNeeds()
    {
        await using var cluster = await Cluster.StartAsync(1);
        using var folder = new TempDirectory("distexec-dashboard-workflow-");
        await File.WriteAllTextAsync(folder.File("release.yaml"), """
            workflow: release
            jobs:
              build: { tasks: [{ command: { program: "true" } }] }
              test: { needs: [build], tasks: [{ command: { program: "true" } }] }
              ship: { needs: [build, test], tasks: [{ command: { program: "true" } }] }
            """);
        var run = await cluster.DistctlAsync("run", "-f", folder.File("release.yaml"), "--wait");
        Assert.True(run.ExitCode == 0, run.ToString());
        var test = (await cluster.Jobs.ListJobsAsync(new ListJobsRequest { Labels = { ["workflow-job"] = "test" } })).Jobs.Single();

        await using var browser = await BrowserAsync();
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });
        await page.GotoAsync(new Uri(cluster.HttpBase, $"ui#/jobs/{test.Id}").ToString());
        var items = page.Locator("#workflow-jobs li");
        await items.Nth(2).WaitForAsync(new() { Timeout = 30_000 });
        Assert.Equal(["build", "test", "ship"], (await items.Locator("a").AllInnerTextsAsync()).ToArray());
        Assert.Equal(3, await items.Locator(".state-SUCCEEDED").CountAsync());
        Assert.Contains("after build, test", await items.Nth(2).InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(test.Id, await page.Locator("#workflow-jobs li.current").GetAttributeAsync("data-job"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "workflow.png"), FullPage = true });
    }

    private static string TokenLine(string name, string role, string token) =>
        $"{name} {role} sha256:{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)))}";

    [Fact]
    public async Task Pages_FollowTheSystemsLightOrDarkPreference()
    {
        await using var cluster = await Cluster.StartAsync(0);
        await using var browser = await BrowserAsync();
        var colours = new Dictionary<ColorScheme, string>();
        foreach (var scheme in new[] { ColorScheme.Light, ColorScheme.Dark })
        {
            var page = await browser.NewPageAsync(new() { ColorScheme = scheme });
            await page.GotoAsync(new Uri(cluster.HttpBase, "ui").ToString());
            await page.Locator("#jobs").WaitForAsync(new() { Timeout = 30_000 });
            colours[scheme] = await page.EvaluateAsync<string>("getComputedStyle(document.body).backgroundColor");
            await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, $"jobs-{scheme.ToString().ToLowerInvariant()}.png") });
        }

        Assert.Equal("rgb(246, 248, 250)", colours[ColorScheme.Light]);
        Assert.Equal("rgb(15, 17, 21)", colours[ColorScheme.Dark]);
    }

    [Fact]
    public async Task JobPage_BigBatch_PollsCountsAndPagesTheTaskList_OutputByItem()
    {
        await using var cluster = await Cluster.StartAsync(1, new Dictionary<string, string> { ["MAX_CONCURRENT_TASKS"] = "4" });
        var spec = new JobSpec { MaxParallel = 4 };
        spec.Tasks.AddRange(Enumerable.Range(1, 150).Select(i => new TaskSpec
        {
            Item = $"host-{i}",
            Command = new CommandSpec { Program = "sh", Args = { "-c", i % 50 == 0 ? $"echo broke host-{i}; exit 1" : $"sleep 0.1; echo done host-{i}" } },
        }));
        var job = (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;
        await using var browser = await BrowserAsync();
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });
        var (whole, pages, light) = (0, 0, 0);
        page.Request += (_, request) =>
        {
            if (request.Url.Contains($"/v1/jobs/{job.Id}?countsOnly=true", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref light);
            }
            else if (request.Url.Contains($"/v1/jobs/{job.Id}?taskOffset=", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref pages);
            }
            else if (request.Url.EndsWith($"/v1/jobs/{job.Id}", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref whole);
            }
        };
        var opened = System.Diagnostics.Stopwatch.StartNew();

        await page.GotoAsync(new Uri(cluster.HttpBase, $"ui#/jobs/{job.Id}").ToString());
        await page.Locator("#job-state", new() { HasTextString = "FAILED" }).WaitForAsync(new() { Timeout = 120_000 });
        await page.Locator("#task-table tr[data-task='98']", new() { HasTextString = "SUCCEEDED" }).WaitForAsync(new() { Timeout = 30_000 });

        // Counts every 500 ms; a page of 100 tasks at most every 5 s (and once more at the end), never the whole job.
        Assert.True(light >= 4, $"{light} count polls");
        Assert.Equal(0, whole);
        Assert.True(pages <= (int)(opened.Elapsed.TotalSeconds / 5) + 5, $"{pages} task pages in {opened.Elapsed.TotalSeconds:0} s");
        Assert.Contains("147 succeeded, 3 failed", await page.Locator("#job-meta").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(100, await page.Locator("#task-table tr[data-task]").CountAsync());
        Assert.Equal("1–100 of 150", await page.Locator("#task-range").InnerTextAsync());

        // Times read relative, the exact date and time on hover.
        var created = page.Locator("#job-meta time").First;
        Assert.Matches(@"(ago|now)", await created.InnerTextAsync());
        Assert.False(string.IsNullOrEmpty(await created.GetAttributeAsync("title")));
        Assert.Contains("host-77", await page.Locator("#task-table tr[data-task='76']").InnerTextAsync(), StringComparison.Ordinal);

        // The next page, then only the failed tasks.
        await page.ClickAsync("#tasks-next");
        await page.Locator("#task-table tr[data-task='149']", new() { HasTextString = "host-150" }).WaitForAsync(new() { Timeout = 30_000 });
        Assert.Equal("101–150 of 150", await page.Locator("#task-range").InnerTextAsync());
        await page.SelectOptionAsync("#task-state", "TASK_STATE_FAILED");
        await page.Locator("#task-range", new() { HasTextString = "1–3 of 3" }).WaitForAsync(new() { Timeout = 30_000 });
        Assert.Equal(["49", "99", "149"], await page.Locator("#task-table tr[data-task]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.task)"));

        // Output by item: every line prefixed with its item (names learnt a page at a time), or one item's alone.
        await page.Locator("#output", new() { HasTextString = "[host-150] broke host-150" }).WaitForAsync(new() { Timeout = 30_000 });
        await page.FillAsync("#output-item", "host-120");
        await page.DispatchEventAsync("#output-item", "change");
        Assert.Equal("[host-120] done host-120\n", await page.Locator("#output").InnerTextAsync());
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "job-batch.png"), FullPage = false });
    }

    private static TaskSpec Echo() => new() { Command = new CommandSpec { Program = "echo", Args = { "hi" } } };

    private static async Task<Job> SubmitAsync(Cluster cluster, string program, params string[] args) =>
        (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest
        {
            Spec = new JobSpec { Tasks = { new TaskSpec { Command = new CommandSpec { Program = program, Args = { args } } } } },
        })).Job;

    private static async Task<BrowserSession> BrowserAsync()
    {
        if (!File.Exists(Chromium))
        {
            throw new InvalidOperationException($"{Chromium} is missing: 'apt-get install chromium' (make test does it when root)");
        }

        Directory.CreateDirectory(Screenshots);
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        });
        return new BrowserSession(playwright, browser);
    }

    private sealed class BrowserSession(IPlaywright playwright, IBrowser browser) : IAsyncDisposable
    {
        public Task<IPage> NewPageAsync(BrowserNewPageOptions? options = null) => browser.NewPageAsync(options);

        public async ValueTask DisposeAsync()
        {
            await browser.CloseAsync();
            playwright.Dispose();
        }
    }

    [GeneratedRegex(@"^\s*1\s*$")]
    private static partial Regex ExactlyOne();

    [GeneratedRegex(@"(^|\D)1 / 1(\D|$)")]
    private static partial Regex OneOfOne();
}
