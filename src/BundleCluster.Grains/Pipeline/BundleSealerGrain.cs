using System.Diagnostics;
using System.Security.Cryptography;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Abstractions.Telemetry;
using BundleCluster.Format.Bundling;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Parts;
using BundleCluster.Grains.Hosting;
using BundleCluster.Grains.Placement;
using BundleCluster.Grains.Telemetry;
using BundleCluster.Storage.Sinks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// The per-job sealer. Keeps a bounded window of slices compressing on chunk grains across the cluster — each slice
/// handed to a silo with a free compression slot (<see cref="SliceDispatcher"/>) — takes them in tar-stream order,
/// fetches their bytes in pieces of at most 4 MiB, and runs them through the sequential
/// <see cref="BundleSealer"/> (one gzip member, AES-128-CBC, 10 MiB parts) into the destination's staging area.
/// A slice whose chunk grain fails or forgets its bytes is compressed again; the redone bytes must be identical.
/// With a baseline bundle (incremental re-bundling, <see cref="BaselineReuse"/>) a slice whose chunk grain found it
/// unchanged is not compressed: the sealer takes its compressed bytes from the baseline's verified parts instead.
/// </summary>
internal sealed partial class BundleSealerGrain(
    [PersistentState("sealer", BundleClusterOptions.JobStorage)] IPersistentState<SealerCheckpoint> checkpoint,
    IOptions<BundleClusterOptions> options,
    PipelineMetrics metrics,
    ILocalSiloDetails silo,
    IClusterMembershipService membership,
    ISiloMetadataCache siloMetadata,
    TimeProvider time,
    ILogger<BundleSealerGrain> logger)
    : BackgroundStageGrain<SealRequest>(silo, time, options.Value.SliceRetryWindow, logger), IBundleSealerGrain
{
    private static readonly TimeSpan ReportEvery = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a new sealer waits, at most, for a predecessor that may be handing over (8 × 250 ms).</summary>
    private const int HandoverWaits = 8;
    private static readonly TimeSpan HandoverPoll = TimeSpan.FromMilliseconds(250);
    private readonly BundleClusterOptions _options = options.Value;

    protected override PipelineStage Stage => PipelineStage.Seal;

    protected override string SpanName => TelemetryNames.Spans.Seal;

    protected override ImageSlicePlan PlanOf(SealRequest request) => request.Plan;

    protected override async Task<Func<IBundleJobReports, Task>> RunAsync(SealRequest request, IBundleJobReports job, Activity? span, CancellationToken ct)
    {
        ImageSlicePlan plan = request.Plan;
        using IBundleSink sink = PlanExtensions.OpenSink(request.Destination, plan.JobId, request.S3, _options);
        using var stopFilling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        SliceWindow? window = null;
        Task filling = Task.CompletedTask;
        try
        {
            // Unwrapping reads the private key file and runs RSA: off the grain's turn.
            using BundleKey key = await Task.Run(() => UnwrapKey(request), ct);
            using BaselineReuse baseline = await BaselineReuse.OpenAsync(request, _options, metrics, ct);
            (SealerResumePoint? resume, IReadOnlySet<int> stagedPast) = await SettledResumePointAsync(sink, ct);
            if (resume is not null && checkpoint.State.OffsetInSlice > 0 && checkpoint.State.ResumeSliceFromBaseline && !baseline.InUse)
            {
                // The predecessor sealed the start of a slice from the baseline, which this sealer cannot open: the rest
                // of that slice cannot be had in the same encoding, so start over (a full build, with the warning).
                resume = null;
                stagedPast = await StagedPastAsync(sink, 0, ct);
            }

            span?.SetTag(TelemetryNames.Attributes.PartsResumed, resume?.PartsDone.Count ?? 0);
            var ledger = new SealerLedger(resume is null ? new SealerCheckpoint { PartsRewritten = checkpoint.State.PartsRewritten } : checkpoint.State);
            ledger.StagedBefore(stagedPast);
            var perSilo = new Dictionary<string, long>(ledger.Checkpoint.Silos);
            // Every slice sealed so far, for the slice index the commit writes; a resumed sealer continues the list its
            // predecessor checkpointed (null — no index, the next build is a full one — if it has none to continue).
            List<SealedSlice>? slices = resume is null ? []
                : ledger.Checkpoint.Slices is { } done && done.Count == ledger.Checkpoint.NextSlice ? [.. done] : null;
            int reused = slices?.Count(s => s.Reused) ?? 0;
            IncrementalCounts Counts() => new(reused, (slices?.Count ?? 0) - reused, baseline.BytesRead, baseline.Warning);
            ActivityContext sealContext = span?.Context ?? default;
            // Part writes stop with the sealer, except when it hands over (its silo stops gracefully): then the writes
            // in flight finish, so that what they wrote becomes part of the checkpoint instead of being written again.
            using var stopWrites = new CancellationTokenSource();
            using CancellationTokenRegistration stopWithSealer = ct.Register(() =>
            {
                if (!HandingOver)
                {
                    stopWrites.Cancel();
                }
            });
            await using var writer = new BoundedPartWriter(async (part, _) =>
            {
                using Activity? writing = JobTracing.Source.StartActivity(TelemetryNames.Spans.PartWrite, ActivityKind.Internal, sealContext);
                writing?.SetTag(TelemetryNames.Attributes.PartIndex, part.Index);
                writing?.SetTag(TelemetryNames.Attributes.PartBytes, part.Data.Length);
                // A part a predecessor staged past its checkpoint (lost, or handing over too late) is usually the very
                // bytes about to be written: keep it instead of writing it again.
                if (ledger.WasStagedBefore(part.Index) && await sink.IsStagedAsync(part.Index, part.Data, stopWrites.Token))
                {
                    writing?.SetTag(TelemetryNames.Attributes.Outcome, "Kept");
                    ledger.PartKept(part);
                    return;
                }

                await sink.WritePartAsync(part.Index, part.Data, stopWrites.Token);
                ledger.PartDurable(part);
                metrics.PartsWritten.Add(1);
            });
            using var sealer = new BundleSealer(key, plan.CompressionLevel, writer.EnqueueAsync, resume);
            long lastReport = Time.GetTimestamp();
            int first = resume is null ? 0 : ledger.Checkpoint.NextSlice;
            int skip = resume is null ? 0 : ledger.Checkpoint.OffsetInSlice; // bytes of the first slice already in parts
            SlicePlan slicing = plan.Slices();
            window = new SliceWindow(new SliceDispatcher(membership, siloMetadata), first, plan.SliceCount, _options.SlicesInFlight,
                index => CompressAsync(plan, index, ResumesCompressed(index) ? null : baseline.Candidate(index, slicing[index].Length), ct));
            // A slice this sealer resumes inside was compressed by its predecessor: it must be compressed again, not taken.
            bool ResumesCompressed(int index) => index == first && skip > 0 && !ledger.Checkpoint.ResumeSliceFromBaseline;
            filling = window.FillAsync(stopFilling.Token);
            try
            {
                await SealSlicesAsync();
            }
            catch (Exception) when (ct.IsCancellationRequested && HandingOver)
            {
                await HandOverAsync(writer, ledger, perSilo, slices, plan.JobId);
                throw;
            }

            async Task SealSlicesAsync()
            {
                for (int sealedSlices = first; sealedSlices < plan.SliceCount; sealedSlices++)
                {
                    (int sliceIndex, ChunkSummary taken) = await window.TakeAsync(ct);
                    byte[]? candidate = baseline.Candidate(sliceIndex, taken.InputLength);
                    (ChunkSummary summary, byte[]? fromBaseline, int baselineOffset) = await FromBaselineOrChunkAsync(plan, taken, baseline, ct);
                    try
                    {
                        if (skip > 0 && ledger.Checkpoint.ResumeSliceLength is > 0 and var expected && expected != summary.CompressedLength)
                        {
                            // The predecessor sealed the start of this slice from other bytes (the baseline's, or its
                            // own): continuing mid-slice with these would corrupt the stream.
                            throw new BundleException(BundleErrorKind.Failed,
                                $"slice {sliceIndex} came out {summary.CompressedLength} bytes long on resuming, not the {expected} the sealer before wrote; the image or the baseline changed during the job");
                        }

                        (uint crcBefore, long inputBefore) = sealer.Framing;
                        ledger.SliceStarting(sliceIndex, SealerLedger.NextSliceStart(sealer.GzipLength) - skip, summary.CompressedLength, crcBefore, inputBefore,
                            fromBaseline is not null);
                        if (fromBaseline is null)
                        {
                            await AppendSliceAsync(plan, summary, sealer, skip, ct);
                        }
                        else
                        {
                            await sealer.AppendCompressedAsync(fromBaseline.AsMemory(baselineOffset + skip, summary.CompressedLength - skip), ct);
                            sealer.AccountSlice(summary.Crc32, summary.InputLength);
                        }
                    }
                    finally
                    {
                        if (fromBaseline is not null)
                        {
                            BaselineReuse.Return(fromBaseline);
                        }
                    }

                    metrics.BytesSealed.Add(summary.InputLength);
                    skip = 0;
                    // Unchanged since the baseline: taken from it, or an all-zero slice there and here (whose bytes
                    // are at hand without reading the baseline).
                    bool unchanged = fromBaseline is not null
                        || (candidate is not null && summary.Sha256 is { } sha256 && Format.Incremental.SliceDigest.Same(sha256, candidate));
                    reused += unchanged ? 1 : 0;
                    slices?.Add(new SealedSlice(summary.Sha256 ?? [], summary.CompressedLength, summary.Crc32, summary.InputLength, unchanged));
                    if (summary.Sha256 is null)
                    {
                        slices = null; // a chunk grain that does not hash: no index for this bundle
                    }

                    if (fromBaseline is null)
                    {
                        perSilo[summary.Silo] = perSilo.GetValueOrDefault(summary.Silo) + summary.InputLength;
                    }

                    Chunk(plan, sliceIndex).ReleaseAsync().Ignore();
                    if (ledger.TryAdvance())
                    {
                        ledger.Checkpoint.Silos = new Dictionary<string, long>(perSilo);
                        ledger.Checkpoint.Slices = slices?.GetRange(0, ledger.Checkpoint.NextSlice);
                        await SaveCheckpointAsync(ledger.Checkpoint); // parts behind this point survive a lost sealer
                    }

                    if (Time.GetElapsedTime(lastReport) >= ReportEvery)
                    {
                        lastReport = Time.GetTimestamp();
                        DelayDeactivation(TimeSpan.FromMinutes(10));
                        var progress = new SealProgress(sealer.TarBytesSealed, sealer.PartsCut, sealer.CiphertextBytes,
                            new Dictionary<string, long>(perSilo), SiloAddress, resume?.PartsDone.Count ?? 0, ledger.PartsRewritten, Counts());
                        await JobReporting.ProgressAsync(() => job.ReportSealProgressAsync(progress));
                    }
                }
            }

            SealResult result = await sealer.FinishAsync(ct);
            await writer.DrainAsync();
            await JobReporting.ProgressAsync(() => job.ReportSealProgressAsync(new SealProgress(sealer.TarBytesSealed, result.Parts.Count,
                result.BundledSize, perSilo, SiloAddress, resume?.PartsDone.Count ?? 0, ledger.PartsRewritten, Counts())));
            var outcome = new SealOutcome(result.Parts.Select(p => new SealedPartInfo(p.Index, p.Length, p.Sha1Hex)).ToList(),
                result.BundledSize, result.GzipLength, sealer.Framing.Crc32, slices, Counts());
            span?.SetTag(TelemetryNames.Attributes.BundleBytes, result.BundledSize);
            return reports => reports.ReportSealedAsync(outcome);
        }
        finally
        {
            await stopFilling.CancelAsync();
            try
            {
                await filling;
            }
            catch (OperationCanceledException)
            {
                // stopped with the sealer
            }

            foreach ((int index, Task<ChunkSummary> pending) in window?.Outstanding ?? [])
            {
                try
                {
                    await pending;
                }
                catch (Exception)
                {
                    // abandoned work after a failure or stop
                }

                Chunk(plan, index).ReleaseAsync().Ignore();
            }
        }
    }

    /// <summary>
    /// The sealer's silo stops gracefully: let the part writes in flight finish, move the checkpoint over them and save
    /// it, so the sealer that takes over (the job's watchdog starts it on a live silo) rewrites no durable part.
    /// </summary>
    private async Task HandOverAsync(BoundedPartWriter writer, SealerLedger ledger, Dictionary<string, long> perSilo,
        List<SealedSlice>? slices, string jobId)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await writer.DrainAsync();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // a failed write is not durable: the successor writes that part, which is no rewrite
        }

        if (ledger.TryAdvance())
        {
            ledger.Checkpoint.Silos = new Dictionary<string, long>(perSilo);
            ledger.Checkpoint.Slices = slices is not null && slices.Count >= ledger.Checkpoint.NextSlice ? slices.GetRange(0, ledger.Checkpoint.NextSlice) : null;
            await SaveCheckpointAsync(ledger.Checkpoint);
        }

        metrics.SealerHandovers.Add(1);
        LogHandedOver(logger, jobId, ledger.Checkpoint.Parts.Count, clock.Elapsed.TotalMilliseconds);
    }

    /// <summary>
    /// Where to resume, and the parts staged beyond that point. Parts staged beyond the checkpoint mean a predecessor
    /// was lost between two checkpoints — or is handing over right now (its silo stopping while this one started):
    /// then its checkpoint moves over them within moments, so wait a little (bounded) for that before rewriting them.
    /// </summary>
    private async Task<(SealerResumePoint? Resume, IReadOnlySet<int> StagedPast)> SettledResumePointAsync(IBundleSink sink, CancellationToken ct)
    {
        SealerResumePoint? resume = await ResumePointAsync(sink, ct);
        IReadOnlySet<int> stagedPast = await StagedPastAsync(sink, resume?.PartsDone.Count ?? 0, ct);
        for (int wait = 0; stagedPast.Count > 0 && wait < HandoverWaits; wait++)
        {
            await Task.Delay(HandoverPoll, Time, ct);
            int covered = checkpoint.State.Parts.Count;
            await checkpoint.ReadStateAsync(ct);
            if (checkpoint.State.Parts.Count > covered)
            {
                resume = await ResumePointAsync(sink, ct);
                stagedPast = await StagedPastAsync(sink, resume?.PartsDone.Count ?? 0, ct);
            }
        }

        return (resume, stagedPast);
    }

    /// <summary>
    /// The parts an earlier sealer of this job left staged from <paramref name="first"/> on, beyond its checkpoint.
    /// Writes run at most two at a time, so the staged parts have gaps of at most one; three misses in a row end them.
    /// </summary>
    private static async Task<IReadOnlySet<int>> StagedPastAsync(IBundleSink sink, int first, CancellationToken ct)
    {
        var staged = new HashSet<int>();
        for (int index = first, misses = 0; misses < 3; index++)
        {
            if (await sink.StagedPartLengthAsync(index, ct) is null)
            {
                misses++;
            }
            else
            {
                staged.Add(index);
                misses = 0;
            }
        }

        return staged;
    }

    /// <summary>
    /// Saves the checkpoint. It is an optimization, so a failed save never fails the job; a save that lost a race with
    /// a stopping predecessor re-reads the stored version and tries once more.
    /// </summary>
    private async Task SaveCheckpointAsync(SealerCheckpoint latest)
    {
        try
        {
            checkpoint.State = latest;
            await checkpoint.WriteStateAsync();
            metrics.CheckpointSaves.Add(1);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            try
            {
                await checkpoint.ReadStateAsync();
                checkpoint.State = latest;
                await checkpoint.WriteStateAsync();
                metrics.CheckpointSaves.Add(1);
            }
            catch (Exception retry) when (retry is not OperationCanceledException)
            {
                LogCheckpointFailed(logger, retry, this.GetPrimaryKeyString());
            }
        }
    }

    /// <summary>
    /// Where an earlier sealer of this job left durable parts: resume there if every part it recorded is still staged
    /// at its recorded length; otherwise start from the first slice.
    /// </summary>
    private async Task<SealerResumePoint?> ResumePointAsync(IBundleSink sink, CancellationToken ct)
    {
        SealerCheckpoint saved = checkpoint.State;
        if (saved.Parts.Count == 0)
        {
            return null;
        }

        foreach (SealedPartInfo part in saved.Parts)
        {
            if (await sink.StagedPartLengthAsync(part.Index, ct) != part.Length)
            {
                return null;
            }
        }

        string jobId = this.GetPrimaryKeyString();
        LogResumed(logger, jobId, saved.Parts.Count, saved.GzipOffset);
        return new SealerResumePoint(saved.Parts.Select(p => new PartRecord(p.Index, p.Length, p.Sha1Hex)).ToList(),
            saved.ChainBlock, saved.GzipOffset, saved.CrcOfWholeSlices, saved.InputOfWholeSlices);
    }

    private BundleKey UnwrapKey(SealRequest request)
    {
        using RSA privateKey = KeyFiles.LoadPrivateKey(request.PrivateKeyPath,
            f => Storage.Sources.AllowedRoots.RequireOpened(f, _options.KeyFileRoots(), "private key"));
        return new WrappedBundleKey("", request.UserEncryptedKey, "", request.UserEncryptedIv).Unwrap(privateKey);
    }

    private IChunkCompressorGrain Chunk(ImageSlicePlan plan, int index) =>
        GrainFactory.GetGrain<IChunkCompressorGrain>($"{plan.JobId}/{index}");

    /// <summary>
    /// Compresses a slice on its chunk grain, retrying with backoff while the grain or its silo fails (a dead silo is
    /// noticed by membership after some seconds; then the grain activates elsewhere) — but not when the input is bad.
    /// </summary>
    private async Task<ChunkSummary> CompressAsync(ImageSlicePlan plan, int index, byte[]? reusableSha256, CancellationToken ct, int firstAttempt = 1)
    {
        var window = new RetryWindow(Time, _options.SliceRetryWindow);
        for (int attempt = firstAttempt; ; attempt++)
        {
            ct.ThrowIfCancellationRequested();
            if (attempt > 1)
            {
                metrics.SlicesRedone.Add(1);
            }

            try
            {
                // A call already sent to a silo that then died would wait out Orleans' 30 s response timeout; give
                // up sooner, cancel it (a slow silo stops reading for it) and ask again — the grain answers from its
                // cache if it finished after all.
                return await WithTimeout(c => Chunk(plan, index).CompressAsync(plan, index, attempt, reusableSha256, c), ct);
            }
            catch (Exception ex) when (ex is not BundleException && !ct.IsCancellationRequested && window.IsOpen)
            {
                LogSliceRetry(logger, ex, plan.JobId, index, attempt);
                await window.BackOffAsync(attempt, ct);
            }
        }
    }

    /// <summary>A chunk call bounded by <see cref="BundleClusterOptions.ChunkCallTimeout"/>, cancelled (not abandoned) when it runs out.</summary>
    private async Task<T> WithTimeout<T>(Func<CancellationToken, Task<T>> call, CancellationToken ct)
    {
        using var timer = new CancellationTokenSource(_options.ChunkCallTimeout, Time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct, timer.Token);
        try
        {
            return await call(timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"the chunk call took longer than {_options.ChunkCallTimeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>
    /// A slice its chunk grain found unchanged since the baseline: its compressed bytes read from the baseline, with the
    /// summary completed from the baseline's index. If the baseline cannot give them (it is then turned off), the slice
    /// is compressed after all. Any other slice is returned as it came.
    /// </summary>
    private async Task<(ChunkSummary Summary, byte[]? Buffer, int Offset)> FromBaselineOrChunkAsync(ImageSlicePlan plan, ChunkSummary summary,
        BaselineReuse baseline, CancellationToken ct)
    {
        if (!summary.Reused)
        {
            return (summary, null, 0);
        }

        if (await baseline.TryReadAsync(summary.Index, summary.InputLength, ct) is { } taken)
        {
            return (summary with { CompressedLength = taken.Entry.CompressedLength, Crc32 = taken.Entry.Crc32 }, taken.Buffer, taken.Offset);
        }

        return (await CompressAsync(plan, summary.Index, null, ct, firstAttempt: 2), null, 0);
    }

    /// <summary>Fetches a compressed slice piece by piece into the sealer; if the grain lost the bytes, recompresses and resumes.</summary>
    private async Task AppendSliceAsync(ImageSlicePlan plan, ChunkSummary summary, BundleSealer sealer, int startOffset, CancellationToken ct)
    {
        int offset = startOffset;
        var window = new RetryWindow(Time, _options.SliceRetryWindow);
        for (int attempt = 1; offset < summary.CompressedLength;)
        {
            ct.ThrowIfCancellationRequested();
            CompressedPiece piece;
            try
            {
                piece = await WithTimeout(c => Chunk(plan, summary.Index).ReadCompressedAsync(offset, c), ct);
            }
            catch (Exception ex) when (ex is not BundleException && !ct.IsCancellationRequested && window.IsOpen)
            {
                LogSliceRetry(logger, ex, plan.JobId, summary.Index, attempt++);
                ChunkSummary redone = await CompressAsync(plan, summary.Index, null, ct, firstAttempt: 2); // the bytes were lost: a redo
                if (redone.CompressedLength != summary.CompressedLength || redone.Crc32 != summary.Crc32)
                {
                    throw new BundleException(BundleErrorKind.Failed,
                        $"slice {summary.Index} compressed differently when redone ({redone.CompressedLength} vs {summary.CompressedLength} bytes); the image changed or silos run different compressors");
                }

                continue;
            }

            await sealer.AppendCompressedAsync(piece.Bytes, ct);
            offset += piece.Bytes.Length;
        }

        sealer.AccountSlice(summary.Crc32, summary.InputLength);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: slice {Index} failed on attempt {Attempt}; redoing it")]
    private static partial void LogSliceRetry(ILogger logger, Exception ex, string jobId, int index, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: sealer resumes after {Parts} durable parts (gzip offset {Offset})")]
    private static partial void LogResumed(ILogger logger, string jobId, int parts, long offset);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: sealer handed over after {Parts} durable parts ({Milliseconds:0} ms to drain)")]
    private static partial void LogHandedOver(ILogger logger, string jobId, int parts, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: could not save the sealer checkpoint; a lost sealer would restart further back")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception ex, string jobId);
}
