using System.Diagnostics;
using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Abstractions.Telemetry;
using BundleCluster.Format.Bundling;
using BundleCluster.Format.Compression;
using BundleCluster.Grains.Placement;
using BundleCluster.Grains.Telemetry;
using BundleCluster.Storage.Sources;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// Compresses one slice of the tar stream where it is placed, reading the slice's byte range straight from the image,
/// and keeps the result until the sealer has fetched it in pieces of at most 4 MiB. A fresh activation (after its silo
/// died) simply compresses again: deflate is deterministic, so the bytes are the same. Hashing the slice for
/// incremental re-bundling happens here too, on the bytes already read: a slice the baseline bundle holds unchanged
/// is hashed and not compressed, and the sealer takes its bytes from the baseline.
/// </summary>
[SpreadPlacement]
internal sealed class ChunkCompressorGrain(CpuWorkLimiter cpu, PipelineMetrics metrics, ILocalSiloDetails silo) : Grain, IChunkCompressorGrain
{
    private static readonly KeyValuePair<string, object?> CompressStage = PipelineMetrics.Stage("compress");
    private CompressedSlice? _slice;
    private ChunkSummary? _summary;

    /// <summary>True once a piece of <see cref="_slice"/> was handed out: only ReleaseAsync may return its buffer then.</summary>
    private bool _leased;

    public async Task<ChunkSummary> CompressAsync(ImageSlicePlan plan, int index, int attempt, byte[]? reusableSha256,
        CancellationToken cancellationToken = default)
    {
        // A cached answer stands, except "reused" to a sealer that no longer has the baseline (it asks for the bytes).
        if (_summary is not null && _summary.Index == index && (!_summary.Reused || reusableSha256 is not null))
        {
            return _summary;
        }

        string siloAddress = silo.SiloAddress.ToString();
        using Activity? span = JobTracing.StartJobSpan(TelemetryNames.Spans.ChunkCompress, plan.TraceParent);
        span?.SetTag(TelemetryNames.Attributes.JobId, plan.JobId);
        span?.SetTag(TelemetryNames.Attributes.SliceIndex, index);
        span?.SetTag(TelemetryNames.Attributes.SliceAttempt, attempt);
        span?.SetTag(TelemetryNames.Attributes.SliceRedone, attempt > 1);
        span?.SetTag(TelemetryNames.Attributes.Silo, siloAddress);
        SliceRange range = plan.Slices()[index];
        long started = Stopwatch.GetTimestamp();
        HashedSlice hashed;
        await using (BundleCluster.Format.IImageReader image = await plan.OpenImageAsync(cancellationToken))
        {
            hashed = await Bundler.HashAndCompressAsync(plan.Layout(), image, range, plan.CompressionLevel, reusableSha256,
                cancellationToken, work => cpu.RunAsync(work, cancellationToken));
        }

        metrics.SliceCompressDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
        metrics.BytesRead.Add(hashed.InputLength, CompressStage);
        span?.SetTag(TelemetryNames.Attributes.InputBytes, hashed.InputLength);
        span?.SetTag(TelemetryNames.Attributes.SliceReused, hashed.Reusable);
        DropSlice();
        if (hashed.Slice is not { } slice)
        {
            _summary = new ChunkSummary(index, hashed.InputLength, 0, 0, siloAddress, hashed.Sha256, Reused: true);
            return _summary;
        }

        metrics.BytesCompressed.Add(slice.Result.CompressedLength);
        span?.SetTag(TelemetryNames.Attributes.CompressedBytes, slice.Result.CompressedLength);
        _slice = slice;
        _summary = new ChunkSummary(index, slice.Result.InputLength, slice.Result.CompressedLength, slice.Result.Crc32, siloAddress, hashed.Sha256);
        return _summary;
    }

    public Task<CompressedPiece> ReadCompressedAsync(int offset, CancellationToken cancellationToken = default)
    {
        if (_slice is null)
        {
            throw new InvalidOperationException($"chunk {this.GetPrimaryKeyString()} holds no compressed bytes (it was re-activated); compress it again");
        }

        ReadOnlyMemory<byte> bytes = _slice.Bytes;
        int count = Math.Min(CompressedPiece.MaxBytes, bytes.Length - offset);
        _leased = true;
        return Task.FromResult(new CompressedPiece(bytes.Slice(offset, count)));
    }

    public Task ReleaseAsync()
    {
        _slice?.Dispose(); // the lease holder is done: the buffer may be reused
        _slice = null;
        _leased = false;
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        DropSlice();
        return Task.CompletedTask;
    }

    /// <summary>Forgets the slice; its buffer goes back to the pool only if no piece of it may still be read.</summary>
    private void DropSlice()
    {
        if (!_leased)
        {
            _slice?.Dispose();
        }

        _slice = null;
        _leased = false;
    }
}
