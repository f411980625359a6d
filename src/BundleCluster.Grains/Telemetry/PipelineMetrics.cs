using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Telemetry;
using N = BundleCluster.Abstractions.Telemetry.TelemetryNames.Instruments;

namespace BundleCluster.Grains.Telemetry;

/// <summary>
/// The pipeline's metrics on this silo (meter "BundleCluster"). Attributes are bounded — a stage, a state, an outcome,
/// never a job id — so a cluster of any size and history yields a fixed set of series. Summed over silos: the jobs
/// gauge and <c>bundlecluster.slices.pending</c> (the backlog autoscaling reads) count each job once, on the silo its
/// job grain lives on.
/// </summary>
public sealed class PipelineMetrics : IDisposable
{
    private static readonly double[] SecondsBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
    private readonly Meter _meter;

    /// <summary>What each job activation on this silo last published (gauge callbacks run off the grains' turns, so they never read grain state).</summary>
    private readonly ConcurrentDictionary<object, JobGauge> _jobs = new();

    public PipelineMetrics(IMeterFactory meters, ILocalSiloDetails silo)
    {
        // The silo tag keeps the streams of silos that share a process (tests, an embedded cluster) apart; across
        // processes the resource does that anyway. One value per silo: bounded.
        _meter = meters.Create(new MeterOptions(TelemetryNames.Meter)
        {
            Tags = [new KeyValuePair<string, object?>(TelemetryNames.Attributes.Silo, silo.SiloAddress.ToString())],
        });
        BytesRead = _meter.CreateCounter<long>(N.BytesRead, "By", "Tar-stream bytes read from images, by stage (digest, compress; redone slices count again)");
        BytesCompressed = _meter.CreateCounter<long>(N.BytesCompressed, "By", "Deflate output of slice compressions");
        BytesSealed = _meter.CreateCounter<long>(N.BytesSealed, "By", "Tar-stream bytes sealed (gzip-framed, encrypted, cut into parts)");
        PartsWritten = _meter.CreateCounter<long>(N.PartsWritten, "{part}", "Bundle parts written to staging");
        SliceCompressDuration = _meter.CreateHistogram(N.SliceCompressDuration, "s", "Time to read and compress one slice",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        SlicesRedone = _meter.CreateCounter<long>(N.SlicesRedone, "{slice}", "Slices compressed again (a chunk call failed or timed out, or its bytes were lost)");
        SlicesReused = _meter.CreateCounter<long>(N.SlicesReused, "{slice}", "Slices whose compressed bytes were taken from a baseline bundle instead of compressed");
        BaselineBytesRead = _meter.CreateCounter<long>(N.BaselineBytesRead, "By", "Baseline bundle part bytes read (and SHA-1 checked) to take reused slices");
        SeriesPaused = _meter.CreateCounter<long>(N.SeriesPaused, "{series}", "Nightly series that paused themselves after too many failed runs in a row");
        CheckpointSaves = _meter.CreateCounter<long>(N.CheckpointSaves, "{save}", "Sealer checkpoints saved");
        SealerHandovers = _meter.CreateCounter<long>(N.SealerHandovers, "{handover}", "Sealers that drained and checkpointed because their silo stopped gracefully");
        JobDuration = _meter.CreateHistogram(N.JobDuration, "s", "Submit-to-end time of finished jobs, by outcome",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _meter.CreateObservableGauge(N.Jobs, ObserveJobs, "{job}", "Unfinished jobs whose job grain lives on this silo, by state");
        _meter.CreateObservableGauge(N.SlicesPending, ObservePendingSlices, "{slice}", "Slices not yet sealed, over the unfinished jobs whose job grain lives on this silo");
    }

    public Counter<long> BytesRead { get; }

    public Counter<long> BytesCompressed { get; }

    public Counter<long> BytesSealed { get; }

    public Counter<long> PartsWritten { get; }

    public Histogram<double> SliceCompressDuration { get; }

    public Counter<long> SlicesRedone { get; }

    public Counter<long> SlicesReused { get; }

    public Counter<long> BaselineBytesRead { get; }

    public Counter<long> SeriesPaused { get; }

    public Counter<long> CheckpointSaves { get; }

    public Counter<long> SealerHandovers { get; }

    public Histogram<double> JobDuration { get; }

    /// <summary>What a job grain reports to the gauges: its state and how many of its slices are not sealed yet.</summary>
    public readonly record struct JobGauge(BundleJobState State, long PendingSlices);

    /// <summary>Publishes a job activation's state to the gauges (until <see cref="Untrack"/>); called whenever it changes.</summary>
    public void Publish(object activation, JobGauge gauge) => _jobs[activation] = gauge;

    public void Untrack(object activation) => _jobs.TryRemove(activation, out _);

    public static KeyValuePair<string, object?> Stage(string stage) => new(TelemetryNames.Attributes.Stage, stage);

    private IEnumerable<Measurement<long>> ObserveJobs()
    {
        long queued = 0, running = 0;
        foreach (JobGauge job in _jobs.Values)
        {
            switch (job.State)
            {
                case BundleJobState.Queued: queued++; break;
                case BundleJobState.Running: running++; break;
            }
        }

        return
        [
            new Measurement<long>(queued, new KeyValuePair<string, object?>(TelemetryNames.Attributes.State, nameof(BundleJobState.Queued))),
            new Measurement<long>(running, new KeyValuePair<string, object?>(TelemetryNames.Attributes.State, nameof(BundleJobState.Running))),
        ];
    }

    private long ObservePendingSlices() =>
        _jobs.Values.Sum(job => job.State is BundleJobState.Queued or BundleJobState.Running ? job.PendingSlices : 0);

    public void Dispose() => _meter.Dispose();
}
