namespace BundleCluster.Storage.Sinks;

/// <summary>
/// Where a bundle is committed. Parts are staged as they are sealed; the commit puts them in place and writes the
/// manifest last, so a destination never holds a manifest whose parts are missing. Abort removes everything staged.
/// </summary>
public interface IBundleSink : IDisposable
{
    /// <summary>Checks, before any image byte is read, that the destination exists, is writable and holds no bundle of this name.</summary>
    Task PrepareAsync(string prefix, bool overwrite, CancellationToken ct);

    /// <summary>Stages part <paramref name="index"/>; writing the same index again replaces it (redone work is identical).</summary>
    Task WritePartAsync(int index, ReadOnlyMemory<byte> data, CancellationToken ct);

    /// <summary>The length of staged part <paramref name="index"/>, or null if it is not staged (a resumed sealer checks).</summary>
    Task<long?> StagedPartLengthAsync(int index, CancellationToken ct);

    /// <summary>
    /// True when part <paramref name="index"/> is staged with exactly <paramref name="data"/>: a resumed sealer keeps
    /// such a part instead of writing it again (a redone part is byte-identical to the first).
    /// </summary>
    Task<bool> IsStagedAsync(int index, ReadOnlyMemory<byte> data, CancellationToken ct);

    /// <summary>
    /// Moves the staged parts to their final names, writes the sidecar files (the slice index), then the manifest
    /// atomically, last. A sidecar of an overwritten bundle that this commit does not write again is removed.
    /// </summary>
    Task CommitAsync(string manifestFileName, IReadOnlyList<string> partFileNames, string manifestText,
        IReadOnlyList<BundleSidecar> sidecars, CancellationToken ct);

    /// <summary>Removes staged and committed parts of this job; leaves no manifest.</summary>
    Task AbortAsync(CancellationToken ct);
}

/// <summary>A small file committed beside a bundle's manifest (before it), such as its slice index.</summary>
public sealed record BundleSidecar(string FileName, byte[] Content);
