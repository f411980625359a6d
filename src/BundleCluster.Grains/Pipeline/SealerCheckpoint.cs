using BundleCluster.Abstractions.Pipeline;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// The sealer's persisted progress: the parts durably staged (in order), and where in the slice stream the next part
/// begins, with the gzip and CBC state at that boundary — enough for a new sealer to continue at a part boundary
/// instead of from the first slice.
/// </summary>
[GenerateSerializer, Alias("bc.SealerCheckpoint")]
public sealed class SealerCheckpoint
{
    [Id(0)] public List<SealedPartInfo> Parts { get; set; } = [];

    /// <summary>The slice whose compressed bytes the next part starts in, and the offset into them.</summary>
    [Id(1)] public int NextSlice { get; set; }

    [Id(2)] public int OffsetInSlice { get; set; }

    [Id(3)] public long GzipOffset { get; set; }

    [Id(4)] public uint CrcOfWholeSlices { get; set; }

    [Id(5)] public long InputOfWholeSlices { get; set; }

    /// <summary>The last 16 ciphertext bytes of the last durable part: the CBC chain to continue from.</summary>
    [Id(6)] public byte[] ChainBlock { get; set; } = [];

    /// <summary>Tar-stream bytes compressed per silo so far, so the status stays whole across a resume.</summary>
    [Id(7)] public Dictionary<string, long> Silos { get; set; } = [];

    /// <summary>Durable parts written again by this job's sealers so far (kept across every restart of the sealer).</summary>
    [Id(8)] public int PartsRewritten { get; set; }

    /// <summary>
    /// The slices before <see cref="NextSlice"/> as sealed (hash, lengths, reused or not), so a resumed sealer can
    /// still hand the commit a complete slice index; null when not known (the bundle then gets no index).
    /// </summary>
    [Id(9)] public List<SealedSlice>? Slices { get; set; }

    /// <summary>The compressed length of <see cref="NextSlice"/> as sealed so far: a resumed sealer must get the same.</summary>
    [Id(10)] public int ResumeSliceLength { get; set; }

    /// <summary>Whether <see cref="NextSlice"/>'s bytes came from the baseline bundle (then a resumed sealer needs it too).</summary>
    [Id(11)] public bool ResumeSliceFromBaseline { get; set; }
}
