using BundleCluster.Abstractions.Jobs;

namespace BundleCluster.Api.Jobs;

/// <summary>A job as <c>GET /v1/jobs/{id}</c> shows it (and every SSE status event carries).</summary>
public sealed record JobView(
    string Id,
    BundleJobState State,
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
    string? TraceId)
{
    public static JobView Of(BundleJobStatus s) => new(
        s.JobId,
        s.State,
        s.QueuePosition,
        new JobProgress(s.ImageBytes, s.TarBytes, s.TarBytesDigested, s.TarBytesSealed, s.PartsWritten, s.BundledBytes, s.SlicesPending),
        s.Silos,
        s.SealerSilo,
        s.StartedAt,
        s.RunningSince,
        s.FinishedAt,
        s.ManifestPath,
        s.Error is null ? null : new JobError(s.ErrorKind ?? JobErrorKind.Failed, s.ErrorField, s.Error),
        s.Labels ?? new Dictionary<string, string>(),
        s.CompressionLevel,
        s.TraceId);
}

/// <summary>Bytes of the image and of its tar stream; the tar-stream bytes read by the digest and sealed into parts.</summary>
public sealed record JobProgress(long ImageBytes, long TarBytes, long BytesRead, long BytesSealed, int Parts, long BundledBytes, long SlicesPending);

/// <summary>Why a job failed: its kind (for clients to branch on), the request field at fault when known, and a sentence.</summary>
public sealed record JobError(JobErrorKind Kind, string? Field, string Message);

/// <summary>A page of <c>GET /v1/jobs</c>: newest first; pass <see cref="NextPageToken"/> as pageToken for the next.</summary>
public sealed record JobPage(IReadOnlyList<JobView> Jobs, string? NextPageToken);
