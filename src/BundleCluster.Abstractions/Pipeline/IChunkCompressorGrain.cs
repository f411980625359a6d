namespace BundleCluster.Abstractions.Pipeline;

/// <summary>The result of compressing one slice: enough for the gzip trailer and for fetching the bytes.</summary>
[GenerateSerializer, Immutable, Alias("bc.ChunkSummary")]
public sealed record ChunkSummary(
    [property: Id(0)] int Index,
    [property: Id(1)] int InputLength,
    [property: Id(2)] int CompressedLength,
    [property: Id(3)] uint Crc32,
    [property: Id(4)] string Silo,
    [property: Id(5)] byte[]? Sha256 = null,
    [property: Id(6)] bool Reused = false);

/// <summary>
/// A piece of a compressed slice; never more than <see cref="MaxBytes"/> per message. A <b>lease</b>: marked immutable,
/// so a call within one silo hands over the chunk grain's own pooled buffer without copying (across silos the piece
/// is serialized into a buffer of the receiver's). The bytes stay valid until the receiver calls
/// <see cref="IChunkCompressorGrain.ReleaseAsync"/> — the one call that returns the buffer to the pool; a chunk
/// activation that goes away while a piece is out drops its buffer to the garbage collector instead, so a late
/// reader never sees the buffer reused.
/// </summary>
[GenerateSerializer, Immutable, Alias("bc.CompressedPiece")]
public sealed record CompressedPiece([property: Id(0)] ReadOnlyMemory<byte> Bytes)
{
    /// <summary>An Orleans message over the transport limit tears down the silo-to-silo connection; stay well under.</summary>
    public const int MaxBytes = 4 << 20;
}

/// <summary>
/// Compresses one slice of a job's tar stream (key "jobId/index"), reading its byte range straight from the image,
/// and holds the compressed bytes until the sealer has fetched them. Activations spread across silos.
/// </summary>
[Alias("bc.IChunkCompressorGrain")]
public interface IChunkCompressorGrain : IGrainWithStringKey
{
    /// <summary>
    /// Hashes and compresses the slice (or answers from the bytes it already holds). <paramref name="attempt"/> counts
    /// the sealer's tries at this slice: above 1 the slice is being redone, as its span and metrics show. When the
    /// slice's SHA-256 equals <paramref name="reusableSha256"/> (the same slice of the baseline bundle) it is not
    /// compressed: the summary says <see cref="ChunkSummary.Reused"/> and holds no bytes. Cancelling stops a
    /// compression that is still waiting for a slot or reading.
    /// </summary>
    [Alias("Compress")]
    Task<ChunkSummary> CompressAsync(ImageSlicePlan plan, int index, int attempt, byte[]? reusableSha256, CancellationToken cancellationToken = default);

    /// <summary>Returns compressed bytes from <paramref name="offset"/>, at most <see cref="CompressedPiece.MaxBytes"/>.</summary>
    [Alias("Read")]
    Task<CompressedPiece> ReadCompressedAsync(int offset, CancellationToken cancellationToken = default);

    /// <summary>The sealer is done with every piece it read (their leases end): return the buffer and deactivate.</summary>
    [Alias("Release")]
    Task ReleaseAsync();
}
