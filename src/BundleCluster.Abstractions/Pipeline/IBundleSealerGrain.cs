namespace BundleCluster.Abstractions.Pipeline;

/// <summary>What the sealer needs: the plan, the wrapped key and where the private key that unwraps it lives.</summary>
[GenerateSerializer, Immutable, Alias("bc.SealRequest")]
public sealed record SealRequest(
    [property: Id(0)] ImageSlicePlan Plan,
    [property: Id(1)] string UserEncryptedKey,
    [property: Id(2)] string UserEncryptedIv,
    [property: Id(3)] string PrivateKeyPath,
    [property: Id(4)] string Destination,
    [property: Id(5)] Jobs.S3Options? S3,
    [property: Id(6)] string? Baseline = null,
    [property: Id(7)] string? UserCertificatePath = null);

/// <summary>
/// One slice as sealed: the SHA-256 of its tar-stream bytes, its compressed length, the CRC-32 of its input, and
/// whether its compressed bytes were taken from the baseline bundle. The commit turns these into the slice index.
/// </summary>
[GenerateSerializer, Immutable, Alias("bc.SealedSlice")]
public sealed record SealedSlice(
    [property: Id(0)] byte[] Sha256,
    [property: Id(1)] int CompressedLength,
    [property: Id(2)] uint Crc32,
    [property: Id(3)] int InputLength,
    [property: Id(4)] bool Reused);

/// <summary>One part as the manifest records it.</summary>
[GenerateSerializer, Immutable, Alias("bc.SealedPartInfo")]
public sealed record SealedPartInfo(
    [property: Id(0)] int Index,
    [property: Id(1)] long Length,
    [property: Id(2)] string Sha1Hex);

/// <summary>The sealer's final word: every part is durable at the destination's staging area.</summary>
[GenerateSerializer, Immutable, Alias("bc.SealOutcome")]
public sealed record SealOutcome(
    [property: Id(0)] IReadOnlyList<SealedPartInfo> Parts,
    [property: Id(1)] long BundledSize,
    [property: Id(2)] long GzipLength,
    [property: Id(3)] uint TarCrc32,
    [property: Id(4)] IReadOnlyList<SealedSlice>? Slices = null,
    [property: Id(5)] IncrementalCounts? Incremental = null);

/// <summary>
/// What incremental re-bundling did so far: slices whose compressed bytes came from the baseline bundle, slices
/// compressed here (all-zero slices included), the baseline's part bytes read, and the warning when it was not used.
/// </summary>
[GenerateSerializer, Immutable, Alias("bc.IncrementalCounts")]
public sealed record IncrementalCounts(
    [property: Id(0)] int SlicesReused,
    [property: Id(1)] int SlicesCompressed,
    [property: Id(2)] long BaselineBytesRead,
    [property: Id(3)] string? Warning);

/// <summary>Sealing progress, sent to the job grain now and then.</summary>
[GenerateSerializer, Immutable, Alias("bc.SealProgress")]
public sealed record SealProgress(
    [property: Id(0)] long TarBytesSealed,
    [property: Id(1)] int PartsWritten,
    [property: Id(2)] long BundledBytes,
    [property: Id(3)] IReadOnlyDictionary<string, long> Silos,
    [property: Id(4)] string SealerSilo,
    [property: Id(5)] int PartsResumed,
    [property: Id(6)] int PartsRewritten = 0,
    [property: Id(7)] IncrementalCounts? Incremental = null);

/// <summary>
/// The per-job sealer (key: job id): takes slices in order from the chunk grains, frames one gzip member, encrypts
/// with AES-128-CBC (sequential by the format), cuts and writes parts. It runs in the background and reports to the
/// job grain.
/// </summary>
[Alias("bc.IBundleSealerGrain")]
public interface IBundleSealerGrain : IGrainWithStringKey
{
    [Alias("Start")]
    Task StartAsync(SealRequest request);

    /// <summary>Stops sealing and waits until no part write is in flight.</summary>
    [Alias("Stop")]
    Task StopAsync();
}

/// <summary>The per-job tar-stream digest (key: job id): one sequential SHA-1 pass, reported to the job grain.</summary>
[Alias("bc.ITarDigestGrain")]
public interface ITarDigestGrain : IGrainWithStringKey
{
    [Alias("Start")]
    Task StartAsync(ImageSlicePlan plan);

    [Alias("Stop")]
    Task StopAsync();
}

/// <summary>How pipeline grains report back to their job grain.</summary>
[Alias("bc.IBundleJobReports")]
public interface IBundleJobReports : IGrainWithStringKey
{
    [Alias("SealProgress")]
    Task ReportSealProgressAsync(SealProgress progress);

    [Alias("Sealed")]
    Task ReportSealedAsync(SealOutcome outcome);

    [Alias("DigestProgress")]
    Task ReportDigestProgressAsync(long tarBytesDigested);

    [Alias("Digested")]
    Task ReportDigestAsync(string sha1Hex, uint tarCrc32);

    [Alias("Failed")]
    Task ReportFailureAsync(Jobs.PipelineStage stage, Jobs.JobErrorKind errorKind, string message);
}
