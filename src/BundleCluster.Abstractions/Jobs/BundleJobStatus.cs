namespace BundleCluster.Abstractions.Jobs;

/// <summary>A snapshot of a job, as the SDK and CLI show it.</summary>
[GenerateSerializer, Immutable, Alias("bc.BundleJobStatus")]
public sealed record BundleJobStatus
{
    [Id(0)] public required string JobId { get; init; }

    [Id(1)] public BundleJobState State { get; init; }

    [Id(2)] public string? Prefix { get; init; }

    [Id(3)] public string? Destination { get; init; }

    [Id(4)] public long ImageBytes { get; init; }

    /// <summary>Length of the tar stream that wraps the image.</summary>
    [Id(5)] public long TarBytes { get; init; }

    /// <summary>Tar-stream bytes the sequential SHA-1 has covered.</summary>
    [Id(6)] public long TarBytesDigested { get; init; }

    /// <summary>Tar-stream bytes compressed, sealed and cut into parts.</summary>
    [Id(7)] public long TarBytesSealed { get; init; }

    [Id(8)] public int PartsWritten { get; init; }

    [Id(9)] public long BundledBytes { get; init; }

    /// <summary>Tar-stream bytes compressed per silo, keyed by silo address.</summary>
    [Id(10)] public IReadOnlyDictionary<string, long> Silos { get; init; } = new Dictionary<string, long>();

    [Id(11)] public string? ManifestPath { get; init; }

    [Id(12)] public string? Error { get; init; }

    // Id 13 was the error kind as a string; it is skipped when old state is read.

    /// <summary>The kind of error, for exit codes and for clients to branch on.</summary>
    [Id(21)] public JobErrorKind? ErrorKind { get; init; }

    /// <summary>The input field an InvalidParameter error is about, when known.</summary>
    [Id(14)] public string? ErrorField { get; init; }

    [Id(15)] public DateTimeOffset? StartedAt { get; init; }

    [Id(16)] public DateTimeOffset? FinishedAt { get; init; }

    [Id(17)] public string? ImageDigest { get; init; }

    [Id(18)] public int CompressionLevel { get; init; }

    /// <summary>The silo running the job's sealer (the sequential stage), as last reported.</summary>
    [Id(19)] public string? SealerSilo { get; init; }

    /// <summary>Parts a restarted sealer kept from its predecessor instead of rewriting them (0 if it never restarted).</summary>
    [Id(20)] public int PartsResumed { get; init; }

    /// <summary>
    /// Durable parts written a second time: what a lost or restarted sealer cost (parts it had staged after its last
    /// checkpoint). 0 when no silo was lost, and after a graceful stop (SIGTERM) of any silo, whose sealer hands over.
    /// </summary>
    [Id(29)] public int PartsRewritten { get; init; }

    /// <summary>Slices whose compressed bytes were taken from the baseline bundle (incremental re-bundling).</summary>
    [Id(30)] public int SlicesReused { get; init; }

    /// <summary>Slices compressed by this job (all of them without a baseline; all-zero slices count here).</summary>
    [Id(31)] public int SlicesCompressed { get; init; }

    /// <summary>Bytes of the baseline bundle's parts read to take its slices (each part once).</summary>
    [Id(32)] public long BaselineBytesRead { get; init; }

    /// <summary>Things the job chose not to do and why, one line each (a baseline it could not use).</summary>
    [Id(33)] public IReadOnlyList<string>? Warnings { get; init; }

    /// <summary>The job's trace id (W3C, 32 hex digits) when it was traced: find its spans under this id.</summary>
    [Id(22)] public string? TraceId { get; init; }

    /// <summary>While Queued: 1 = the next job to run. Null otherwise.</summary>
    [Id(23)] public int? QueuePosition { get; init; }

    /// <summary>When the queue admitted the job and it began to run (<see cref="StartedAt"/> is when it was submitted).</summary>
    [Id(24)] public DateTimeOffset? RunningSince { get; init; }

    /// <summary>Slices not sealed yet: the job's share of the cluster's backlog.</summary>
    [Id(25)] public long SlicesPending { get; init; }

    /// <summary>The tenant the job belongs to (bundle-api), null for jobs submitted inside the cluster.</summary>
    [Id(26)] public string? Tenant { get; init; }

    /// <summary>The job's labels, as submitted.</summary>
    [Id(27)] public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>Digest of the request that created the job (see <see cref="BundleJobSpec.RequestFingerprint"/>).</summary>
    [Id(28)] public string? RequestFingerprint { get; init; }

    public bool IsFinished => State is BundleJobState.Completed or BundleJobState.Failed or BundleJobState.Cancelled;
}
