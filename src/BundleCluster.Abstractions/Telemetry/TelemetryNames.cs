namespace BundleCluster.Abstractions.Telemetry;

/// <summary>
/// The names BundleCluster's traces and metrics go by: one <c>ActivitySource</c> and one <c>Meter</c>, both
/// "BundleCluster", and the span, instrument and attribute names operators query (docs/operations.md lists them).
/// Attributes are bounded: job ids appear on spans, never on metrics.
/// </summary>
public static class TelemetryNames
{
    public const string ActivitySource = "BundleCluster";
    public const string Meter = "BundleCluster";

    /// <summary>Orleans' own sources (grain calls, lifecycle, storage) and meter, exported beside ours.</summary>
    public static readonly IReadOnlyList<string> OrleansActivitySources =
        ["Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application", "Microsoft.Orleans.Lifecycle", "Microsoft.Orleans.Storage"];

    public const string OrleansMeter = "Microsoft.Orleans";

    /// <summary>Span names: one trace per job, rooted at <see cref="Job"/>.</summary>
    public static class Spans
    {
        public const string Job = "bundle.job";
        public const string Prepare = "bundle.prepare";
        public const string Digest = "bundle.digest";
        public const string Seal = "bundle.seal";
        public const string PartWrite = "bundle.part.write";
        public const string ChunkCompress = "bundle.chunk.compress";
        public const string Commit = "bundle.commit";
        public const string Abort = "bundle.abort";
    }

    /// <summary>Span (and, where bounded, metric) attribute names.</summary>
    public static class Attributes
    {
        public const string JobId = "bundlecluster.job.id";
        public const string Prefix = "bundlecluster.prefix";
        public const string ImageBytes = "bundlecluster.image.bytes";
        public const string TarBytes = "bundlecluster.tar.bytes";
        public const string BundleBytes = "bundlecluster.bundle.bytes";
        public const string Level = "bundlecluster.compression.level";
        public const string Outcome = "bundlecluster.job.outcome";
        public const string ErrorType = "error.type"; // OpenTelemetry's semantic convention
        public const string Resumed = "bundlecluster.job.resumed";
        public const string Silo = "bundlecluster.silo";
        public const string SliceIndex = "bundlecluster.slice.index";
        public const string SliceAttempt = "bundlecluster.slice.attempt";
        public const string SliceRedone = "bundlecluster.slice.redone";
        public const string SliceReused = "bundlecluster.slice.reused";
        public const string InputBytes = "bundlecluster.input.bytes";
        public const string CompressedBytes = "bundlecluster.compressed.bytes";
        public const string PartIndex = "bundlecluster.part.index";
        public const string PartBytes = "bundlecluster.part.bytes";
        public const string PartsResumed = "bundlecluster.parts.resumed";
        public const string Stage = "bundlecluster.stage";
        public const string State = "bundlecluster.job.state";
    }

    /// <summary>Metric instrument names.</summary>
    public static class Instruments
    {
        public const string Jobs = "bundlecluster.jobs";
        public const string BytesRead = "bundlecluster.bytes.read";
        public const string BytesCompressed = "bundlecluster.bytes.compressed";
        public const string BytesSealed = "bundlecluster.bytes.sealed";
        public const string PartsWritten = "bundlecluster.parts.written";
        public const string SliceCompressDuration = "bundlecluster.slice.compress.duration";
        public const string SlicesRedone = "bundlecluster.slices.redone";
        public const string SlicesReused = "bundlecluster.slices.reused";
        public const string SeriesPaused = "bundlecluster.series.paused";
        public const string BaselineBytesRead = "bundlecluster.baseline.bytes.read";
        public const string CheckpointSaves = "bundlecluster.checkpoint.saves";
        public const string SealerHandovers = "bundlecluster.sealer.handovers";
        public const string JobDuration = "bundlecluster.job.duration";
        public const string SlicesPending = "bundlecluster.slices.pending";
    }
}
