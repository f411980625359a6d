using System.Diagnostics;
using System.Security.Cryptography;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Telemetry;
using BundleCluster.Client;
using BundleCluster.Format.Bundling;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Manifest;
using BundleCluster.Grains.Hosting;
using BundleCluster.Hosting;
using BundleCluster.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Orleans.TestingHost;
using A = BundleCluster.Abstractions.Telemetry.TelemetryNames.Attributes;
using S = BundleCluster.Abstractions.Telemetry.TelemetryNames.Spans;

namespace BundleCluster.Cluster.Tests;

/// <summary>Tests that record process-wide telemetry run alone: no other test's job may add to their counters.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryRunsAlone
{
    public const string Name = "telemetry";
}

/// <summary>
/// Traces, metrics and logs of jobs on two real silos (job state in a real Redis), caught by OpenTelemetry's
/// in-memory exporters subscribed exactly as a host subscribes its OTLP exporter.
/// </summary>
[Collection(TelemetryRunsAlone.Name)]
[Trait("Tier", "Slow")]
public sealed class TelemetryTests : IAsyncLifetime
{
    private static readonly ActivitySource Pipeline = new("BundleCluster.Tests.Pipeline"); // stands in for a CI pipeline
    private readonly RedisServer _redis = new();
    private readonly TempDirectory _dir = new("telemetry");
    private readonly LockedCollection<Activity> _spans = new(); // the exporter adds from other threads while tests poll
    private readonly List<MetricSnapshot> _metrics = [];
    private readonly List<CapturedLog> _logs = [];
    private TracerProvider _tracing = null!;
    private MeterProvider _meters = null!;
    private InProcessTestCluster _cluster = null!;
    private BundleClusterClient _client = null!;

    public async Task InitializeAsync()
    {
        _tracing = Sdk.CreateTracerProviderBuilder().AddBundleClusterTracing().AddSource(Pipeline.Name).AddInMemoryExporter(_spans).Build()!;
        _meters = Sdk.CreateMeterProviderBuilder().AddBundleClusterMeters().AddInMemoryExporter(_metrics).Build()!;
        var builder = new InProcessTestClusterBuilder(2);
        string redis = _redis.Address;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddBundleClusterGrains(o => o.CompressionSlots = 1).AddBundleClusterRedisStorage(redis);
            silo.Services.AddLogging(logging => logging.AddOpenTelemetry(o =>
            {
                o.IncludeScopes = true;
                o.IncludeFormattedMessage = true;
                o.AddProcessor(new LogCapture(_logs));
            }));
        });
        builder.ConfigureClient(client => client.AddActivityPropagation());
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        _client = new BundleClusterClient(_cluster.Client);
    }

    [Fact]
    public async Task A_job_on_two_silos_is_one_trace_under_its_callers_span_with_counters_that_match_its_status()
    {
        string image = ClusterJobs.BusyImage(_dir.File("trace.img"), 24_000_000, seed: 41);
        string jobId;
        ActivityContext caller;
        using (Activity pipelineStep = Pipeline.StartActivity("ci.bundle-step")!)
        {
            caller = pipelineStep.Context;
            jobId = await _client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub("bundle")));
        }

        BundleJobStatus done = await _client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(3));
        Assert.Equal(BundleJobState.Completed, done.State);
        await WaitForCompletedRootAsync(done.TraceId!); // the status is visible a moment before the root span ends
        _tracing.ForceFlush();
        FlushMetrics();

        Assert.Equal(caller.TraceId.ToHexString(), done.TraceId);
        List<Activity> trace = SpansOf(done.TraceId!);
        Activity root = Assert.Single(trace, s => s.OperationName == S.Job);
        Assert.True(IsBelow(root, caller.SpanId), "the job's span is not below the caller's span");
        Assert.Equal(jobId, root.GetTagItem(A.JobId));
        Assert.Equal(done.Prefix, root.GetTagItem(A.Prefix));
        Assert.Equal(done.ImageBytes, root.GetTagItem(A.ImageBytes));
        Assert.Equal(done.BundledBytes, root.GetTagItem(A.BundleBytes));
        Assert.Equal(6, root.GetTagItem(A.Level));
        Assert.Equal("Completed", root.GetTagItem(A.Outcome));
        foreach (string stage in new[] { S.Prepare, S.Digest, S.Seal, S.Commit })
        {
            Activity span = Assert.Single(trace, s => s.OperationName == stage);
            Assert.True(span.StartTimeUtc >= root.StartTimeUtc && span.StartTimeUtc + span.Duration <= root.StartTimeUtc + root.Duration,
                $"{stage} lies outside the job's span");
        }

        Assert.Equal(done.PartsWritten, trace.Count(s => s.OperationName == S.PartWrite));
        List<Activity> chunks = trace.Where(s => s.OperationName == S.ChunkCompress).ToList();
        int slices = (int)((done.TarBytes + (1 << 20) - 1) >> 20);
        Assert.Equal(slices, chunks.Count);
        Assert.Equal(done.Silos.Keys.Order(), chunks.Select(c => (string)c.GetTagItem(A.Silo)!).Distinct().Order());
        Assert.Equal(2, done.Silos.Count);
        Assert.All(chunks, c => Assert.Equal(false, c.GetTagItem(A.SliceRedone)));
        Assert.DoesNotContain(_spans, s => Equals(s.GetTagItem(A.JobId), jobId) && s.TraceId.ToHexString() != done.TraceId);

        Assert.Equal(done.TarBytes, Sum(TelemetryNames.Instruments.BytesRead, (A.Stage, "digest")));
        Assert.Equal(done.TarBytes, Sum(TelemetryNames.Instruments.BytesRead, (A.Stage, "compress")));
        Assert.Equal(done.TarBytes, Sum(TelemetryNames.Instruments.BytesSealed));
        Assert.Equal(chunks.Sum(c => Convert.ToInt64(c.GetTagItem(A.CompressedBytes))), Sum(TelemetryNames.Instruments.BytesCompressed));
        Assert.Equal(done.PartsWritten, Sum(TelemetryNames.Instruments.PartsWritten));
        Assert.Equal(0, Sum(TelemetryNames.Instruments.SlicesRedone));
        Assert.Equal(1, HistogramCount(TelemetryNames.Instruments.JobDuration, (A.Outcome, "Completed")));
        Assert.Equal(slices, HistogramCount(TelemetryNames.Instruments.SliceCompressDuration));
        Assert.Equal(0, LastGauge(TelemetryNames.Instruments.SlicesPending));

        CapturedLog started = Assert.Single(_logs, l => l.Message.Contains($"Job {jobId} started", StringComparison.Ordinal));
        Assert.Equal(done.TraceId, started.TraceId);
        Assert.Contains(started.Scopes, kv => kv.Key == A.JobId && Equals(kv.Value, jobId));
        AssertNoSecrets(done);
    }

    [Fact]
    public async Task Work_resumed_after_the_sealers_silo_stopped_stays_in_the_jobs_trace()
    {
        // Big enough that what is left after 15% outlasts the silo's graceful stop on a fast machine: the sealer must
        // really be restarted elsewhere (a run on an idle machine once sealed the rest while its silo was stopping).
        string image = ClusterJobs.BusyImage(_dir.File("resume.img"), 160_000_000, seed: 42);
        string jobId = await _client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub("bundle"), level: 9));
        BundleJobStatus running = await ClusterJobs.WaitForProgressAsync(_client, jobId, 0.15);
        Assert.False(running.IsFinished, "the job finished before a silo could be stopped under it");
        // Gauges are sampled when exported; under a loaded machine the first export can come before the job grain's
        // silo has published its job (seen once in a full run), so give it a few exports.
        long pending = 0;
        for (int export = 0; export < 10 && pending == 0; export++, await Task.Delay(200))
        {
            FlushMetrics();
            pending = LastGauge(TelemetryNames.Instruments.SlicesPending);
        }

        Assert.InRange(pending, 1, (running.TarBytes >> 20) + 1);

        InProcessSiloHandle sealerSilo = _cluster.Silos.Single(s => s.SiloAddress.ToString() == running.SealerSilo);
        DateTime stopped = DateTime.UtcNow;
        await _cluster.StopSiloAsync(sealerSilo);
        BundleJobStatus done = await _client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(4));
        Assert.Equal(BundleJobState.Completed, done.State);
        await WaitForCompletedRootAsync(done.TraceId!);
        // The stopped silo's sealer ends its span once its abandoned chunk calls have given up.
        for (DateTime until = DateTime.UtcNow.AddSeconds(30); SpansOf(done.TraceId!).Count(s => s.OperationName == S.Seal) < 2 && DateTime.UtcNow < until;)
        {
            await Task.Delay(200);
        }

        _tracing.ForceFlush();
        List<Activity> ofJob = _spans.Where(s => Equals(s.GetTagItem(A.JobId), jobId)).ToList();
        Assert.All(ofJob, s => Assert.Equal(done.TraceId, s.TraceId.ToHexString()));
        List<Activity> trace = SpansOf(done.TraceId!);
        Assert.True(trace.Count(s => s.OperationName == S.Seal) >= 2, "the restarted sealer has no span of its own; after the stop: "
            + string.Join(", ", trace.Where(s => s.StartTimeUtc > stopped).GroupBy(s => s.OperationName).Select(g => $"{g.Key}×{g.Count()}")));
        Assert.Contains(trace, s => s.OperationName == S.ChunkCompress && s.StartTimeUtc > stopped);
        Assert.Contains(trace, s => s.OperationName == S.PartWrite && s.StartTimeUtc > stopped);
        Activity finalRoot = Assert.Single(trace, s => s.OperationName == S.Job && Equals(s.GetTagItem(A.Outcome), "Completed"));
        Assert.Equal(done.BundledBytes, finalRoot.GetTagItem(A.BundleBytes));
        AssertNoSecrets(done);
    }

    /// <summary>
    /// Waits (bounded) for the job's root span with outcome Completed: the job grain publishes the final status, then
    /// persists it, then ends the root span (and records the job's duration), so a client can see Completed first.
    /// </summary>
    private async Task WaitForCompletedRootAsync(string traceId)
    {
        for (DateTime until = DateTime.UtcNow.AddSeconds(15); DateTime.UtcNow < until; await Task.Delay(100))
        {
            if (SpansOf(traceId).Any(s => s.OperationName == S.Job && Equals(s.GetTagItem(A.Outcome), "Completed")))
            {
                return;
            }
        }
    }

    /// <summary>Neither spans nor logs hold the bundle's AES key or IV, the private key, or the signed manifest text.</summary>
    private void AssertNoSecrets(BundleJobStatus done)
    {
        TestIdentity user = TestIdentity.User(_dir.Path);
        BundleManifest manifest = ManifestReader.ReadFile(done.ManifestPath!);
        using RSA privateKey = KeyFiles.LoadPrivateKey(user.PrivateKeyPath);
        using BundleKey key = new WrappedBundleKey(manifest.Image.Ec2EncryptedKey, manifest.Image.UserEncryptedKey,
            manifest.Image.Ec2EncryptedIv, manifest.Image.UserEncryptedIv).Unwrap(privateKey);
        var secrets = new List<string> { key.KeyHex, key.IvHex, manifest.Signature, "<machine_configuration>" };
        secrets.AddRange(File.ReadAllLines(user.PrivateKeyPath).Where(line => line.Length >= 16 && !line.StartsWith("-----", StringComparison.Ordinal)));

        IEnumerable<string> recorded = _spans.SelectMany(s => s.TagObjects.Select(t => $"{t.Key}={t.Value}").Append(s.DisplayName).Append(s.StatusDescription ?? ""))
            .Concat(_logs.SelectMany(l => l.Attributes.Concat(l.Scopes).Select(kv => $"{kv.Key}={kv.Value}").Append(l.Message)));
        foreach (string text in recorded)
        {
            foreach (string secret in secrets)
            {
                Assert.DoesNotContain(secret, text, StringComparison.OrdinalIgnoreCase);
            }
        }
    }

    /// <summary>Whether <paramref name="span"/> descends from the span <paramref name="ancestor"/> (through Orleans' call spans).</summary>
    private bool IsBelow(Activity span, ActivitySpanId ancestor)
    {
        for (Activity? at = span; at is not null; at = _spans.FirstOrDefault(s => s.SpanId == at.ParentSpanId))
        {
            if (at.ParentSpanId == ancestor)
            {
                return true;
            }
        }

        return false;
    }

    private List<Activity> SpansOf(string traceId) => _spans.Where(s => s.TraceId.ToHexString() == traceId).ToList();

    private long Sum(string instrument, params (string Key, string Value)[] tags) =>
        LatestPoints(instrument).Where(p => HasTags(p, tags)).Sum(p => p.GetSumLong());

    private long HistogramCount(string instrument, params (string Key, string Value)[] tags) =>
        LatestPoints(instrument).Where(p => HasTags(p, tags)).Sum(p => p.GetHistogramCount());

    private long LastGauge(string instrument) => LatestPoints(instrument).Sum(p => p.GetGaugeLastValueLong());

    /// <summary>The points of the latest export (cumulative temporality: the totals so far).</summary>
    private IEnumerable<MetricPoint> LatestPoints(string instrument) =>
        _metrics.Where(m => m.Name == instrument).SelectMany(m => m.MetricPoints);

    /// <summary>Exports the metrics now, keeping only this export.</summary>
    private void FlushMetrics()
    {
        _metrics.Clear();
        _meters.ForceFlush();
    }

    private static bool HasTags(MetricPoint point, (string Key, string Value)[] tags)
    {
        var present = new Dictionary<string, object?>();
        foreach (KeyValuePair<string, object?> tag in point.Tags)
        {
            present[tag.Key] = tag.Value;
        }

        return tags.All(t => present.TryGetValue(t.Key, out object? v) && Equals(v, t.Value));
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _tracing.Dispose();
        _meters.Dispose();
        _redis.Dispose();
        _dir.Dispose();
    }

    private sealed record CapturedLog(string Message, string? TraceId, List<KeyValuePair<string, object?>> Attributes, List<KeyValuePair<string, object?>> Scopes);

    /// <summary>Copies each log record as it ends (the SDK reuses records after export).</summary>
    private sealed class LogCapture(List<CapturedLog> logs) : BaseProcessor<LogRecord>
    {
        public override void OnEnd(LogRecord record)
        {
            var scopes = new List<KeyValuePair<string, object?>>();
            record.ForEachScope((scope, list) =>
            {
                foreach (KeyValuePair<string, object?> item in scope)
                {
                    list.Add(item);
                }
            }, scopes);
            var captured = new CapturedLog(record.FormattedMessage ?? record.Body ?? "",
                record.TraceId == default ? null : record.TraceId.ToHexString(),
                record.Attributes?.ToList() ?? [], scopes);
            lock (logs)
            {
                logs.Add(captured);
            }
        }
    }

    /// <summary>A collection the exporter may add to while a test enumerates a snapshot of it.</summary>
    private sealed class LockedCollection<T> : ICollection<T>
    {
        private readonly List<T> _items = [];

        public int Count
        {
            get
            {
                lock (_items)
                {
                    return _items.Count;
                }
            }
        }

        public bool IsReadOnly => false;

        public void Add(T item)
        {
            lock (_items)
            {
                _items.Add(item);
            }
        }

        public void Clear()
        {
            lock (_items)
            {
                _items.Clear();
            }
        }

        public bool Contains(T item) => Snapshot().Contains(item);

        public void CopyTo(T[] array, int arrayIndex) => Snapshot().CopyTo(array, arrayIndex);

        public bool Remove(T item)
        {
            lock (_items)
            {
                return _items.Remove(item);
            }
        }

        public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)Snapshot()).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        private T[] Snapshot()
        {
            lock (_items)
            {
                return [.. _items];
            }
        }
    }
}
