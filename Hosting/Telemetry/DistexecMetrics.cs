using System.Diagnostics.Metrics;

namespace DistributedExecutor.Hosting.Telemetry;

/// <summary>
/// The system's own instruments (meter "DistributedExecutor"), shared by master and worker so a name means the
/// same thing on both. Prometheus sees them as distexec_jobs_submitted_total, distexec_tasks_finished_total,
/// distexec_task_duration_seconds, distexec_queue_depth, distexec_tasks_running, distexec_workers_connected,
/// distexec_workers_lost_total, distexec_redeliveries_total, distexec_output_bytes_total, distexec_reports_received_total,
/// distexec_store_size_bytes and distexec_store_free_bytes.
/// </summary>
internal sealed class DistexecMetrics : IDisposable
{
    public const string MeterName = "DistributedExecutor";

    private readonly Meter _meter = new(MeterName);

    public DistexecMetrics()
    {
        JobsSubmitted = _meter.CreateCounter<long>("distexec.jobs.submitted", "{job}", "Jobs accepted (confirmed by the broker)");
        TasksFinished = _meter.CreateCounter<long>("distexec.tasks.finished", "{task}", "Tasks (master) or attempts (worker) that ended, by outcome");
        TaskDuration = _meter.CreateHistogram<double>("distexec.task.duration", "s", "Run time of a task from start to end, by outcome",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900] });
        WorkersLost = _meter.CreateCounter<long>("distexec.workers.lost", "{worker}", "Workers declared lost (no heartbeat)");
        Redeliveries = _meter.CreateCounter<long>("distexec.redeliveries", "{attempt}", "Attempts beyond a task's first (redelivered after a lost worker or connection)");
        OutputBytes = _meter.CreateCounter<long>("distexec.output.bytes", "By", "Output bytes stored (master) or produced (worker), by stream");
        ReportsReceived = _meter.CreateCounter<long>("distexec.reports.received", "{message}",
            "Workers' reports the master received (each delivery), by kind: started, output, finished. A task that ends within 100 ms sends one, its finished");
    }

    /// <summary>
    /// True in a worker process: its consumers record what they ran. In the master (embedded workers too) the
    /// store records each task once, from the events it applies, so the consumers must not count again.
    /// </summary>
    public bool WorkerSide { get; init; }

    public Counter<long> JobsSubmitted { get; }

    public Counter<long> TasksFinished { get; }

    public Histogram<double> TaskDuration { get; }

    public Counter<long> WorkersLost { get; }

    public Counter<long> Redeliveries { get; }

    public Counter<long> OutputBytes { get; }

    public Counter<long> ReportsReceived { get; }

    /// <summary>Counts one worker report received by the master; <paramref name="kind"/> is started, output or finished.</summary>
    public void CountReport(string kind) => ReportsReceived.Add(1, new KeyValuePair<string, object?>("kind", kind));

    /// <summary>Tasks waiting in each pool's queue, read when scraped.</summary>
    public void ObserveQueueDepth(Func<IEnumerable<Measurement<long>>> observe) =>
        _meter.CreateObservableGauge("distexec.queue.depth", observe, "{task}", "Tasks waiting in the pool's queue");

    /// <summary>Tasks running now (per pool on the master, on this worker on a worker).</summary>
    public void ObserveTasksRunning(Func<IEnumerable<Measurement<long>>> observe) =>
        _meter.CreateObservableGauge("distexec.tasks.running", observe, "{task}", "Tasks running now");

    /// <summary>Workers alive per pool.</summary>
    public void ObserveWorkersConnected(Func<IEnumerable<Measurement<long>>> observe) =>
        _meter.CreateObservableGauge("distexec.workers.connected", observe, "{worker}", "Workers alive (heartbeating) per pool");

    /// <summary>Per concurrency key with a limit: its tasks holding it and waiting for it in the master.</summary>
    public void ObserveConcurrencyKeys(Func<IEnumerable<Measurement<long>>> holding, Func<IEnumerable<Measurement<long>>> waiting)
    {
        _meter.CreateObservableGauge("distexec.concurrency_key.holding", holding, "{task}", "Tasks holding a concurrency key (queued in the broker or running)");
        _meter.CreateObservableGauge("distexec.concurrency_key.waiting", waiting, "{task}", "Tasks waiting in the master for a concurrency key");
    }

    /// <summary>The job store's size on disk (database and write-ahead log) and the space left on its filesystem.</summary>
    public void ObserveStore(Func<long> sizeBytes, Func<long> freeBytes)
    {
        _meter.CreateObservableGauge("distexec.store.size", sizeBytes, "By", "Bytes the job store takes on disk (database and write-ahead log)");
        _meter.CreateObservableGauge("distexec.store.free", freeBytes, "By", "Bytes free on the job store's filesystem");
    }

    public void RecordFinished(string outcome, TimeSpan duration)
    {
        var tag = new KeyValuePair<string, object?>("outcome", outcome);
        TasksFinished.Add(1, tag);
        TaskDuration.Record(Math.Max(0, duration.TotalSeconds), tag);
        Interlocked.Increment(ref outcome == "Succeeded" ? ref _succeeded : ref _notSucceeded);
    }

    private long _succeeded, _notSucceeded;

    /// <summary>Tasks that ended since the last call: succeeded, and failed (failed, timed out or canceled). The dashboard's history reads it.</summary>
    public (long Succeeded, long Failed) TakeFinished() => (Interlocked.Exchange(ref _succeeded, 0), Interlocked.Exchange(ref _notSucceeded, 0));

    public void Dispose() => _meter.Dispose();
}
