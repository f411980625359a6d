using BundleCluster.Abstractions.Jobs;

namespace BundleCluster.Client.Service;

/// <summary>A job as bundle-api's <c>GET /v1/jobs/{id}</c> shows it (and every SSE status event carries): the wire form.</summary>
public sealed record JobView(
    string Id,
    BundleJobState State,
    string? Prefix,
    string? Destination,
    int? QueuePosition,
    JobProgress Progress,
    IReadOnlyDictionary<string, long> Silos,
    string? SealerSilo,
    DateTimeOffset? SubmittedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Manifest,
    JobError? Error,
    IReadOnlyDictionary<string, string> Labels,
    int Level,
    string? TraceId,
    IReadOnlyList<string>? Warnings = null)
{
    public static JobView Of(BundleJobStatus s) => new(
        s.JobId,
        s.State,
        s.Prefix,
        s.Destination,
        s.QueuePosition,
        new JobProgress(s.ImageBytes, s.TarBytes, s.TarBytesDigested, s.TarBytesSealed, s.PartsWritten, s.BundledBytes, s.SlicesPending,
            s.PartsResumed, s.PartsRewritten, s.SlicesReused, s.SlicesCompressed, s.BaselineBytesRead),
        s.Silos,
        s.SealerSilo,
        s.StartedAt,
        s.RunningSince,
        s.FinishedAt,
        s.ManifestPath,
        s.Error is null ? null : new JobError(s.ErrorKind ?? JobErrorKind.Failed, s.ErrorField, s.Error),
        s.Labels ?? new Dictionary<string, string>(),
        s.CompressionLevel,
        s.TraceId,
        s.Warnings);

    /// <summary>The same job as the Orleans client reports it, so code (and bundlectl's output) serves both ways in.</summary>
    public BundleJobStatus ToStatus() => new()
    {
        JobId = Id,
        State = State,
        Prefix = Prefix,
        Destination = Destination,
        QueuePosition = QueuePosition,
        ImageBytes = Progress.ImageBytes,
        TarBytes = Progress.TarBytes,
        TarBytesDigested = Progress.BytesRead,
        TarBytesSealed = Progress.BytesSealed,
        PartsWritten = Progress.Parts,
        BundledBytes = Progress.BundledBytes,
        SlicesPending = Progress.SlicesPending,
        PartsResumed = Progress.PartsResumed,
        PartsRewritten = Progress.PartsRewritten,
        SlicesReused = Progress.SlicesReused,
        SlicesCompressed = Progress.SlicesCompressed,
        BaselineBytesRead = Progress.BaselineBytesRead,
        Warnings = Warnings,
        Silos = Silos,
        SealerSilo = SealerSilo,
        StartedAt = SubmittedAt,
        RunningSince = StartedAt,
        FinishedAt = FinishedAt,
        ManifestPath = Manifest,
        Error = Error?.Message,
        ErrorKind = Error?.Kind,
        ErrorField = Error?.Field,
        Labels = Labels,
        CompressionLevel = Level,
        TraceId = TraceId,
    };
}

/// <summary>
/// Bytes of the image and of its tar stream; the tar-stream bytes read by the digest and sealed into parts; parts a
/// restarted sealer kept (<see cref="PartsResumed"/>) and durable parts that had to be written again
/// (<see cref="PartsRewritten"/>: what losing a silo cost); with a baseline bundle, the slices taken from it
/// (<see cref="SlicesReused"/>) and compressed (<see cref="SlicesCompressed"/>), and the baseline part bytes read.
/// </summary>
public sealed record JobProgress(long ImageBytes, long TarBytes, long BytesRead, long BytesSealed, int Parts, long BundledBytes, long SlicesPending,
    int PartsResumed = 0, int PartsRewritten = 0, int SlicesReused = 0, int SlicesCompressed = 0, long BaselineBytesRead = 0);

/// <summary>Why a job failed: its kind (for clients to branch on), the request field at fault when known, and a sentence.</summary>
public sealed record JobError(JobErrorKind Kind, string? Field, string Message);

/// <summary>A page of <c>GET /v1/jobs</c>: newest first; pass <see cref="NextPageToken"/> as pageToken for the next.</summary>
public sealed record JobPage(IReadOnlyList<JobView> Jobs, string? NextPageToken);
