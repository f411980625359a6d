namespace BundleCluster.Format.Unbundling;

/// <summary>Where the extracted image goes: a file (holes kept sparse) or nowhere (verification only).</summary>
public interface IExtractTarget : IAsyncDisposable
{
    ValueTask WriteAtAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct);

    /// <summary>Sets the final length, so trailing holes of a sparse image exist.</summary>
    void SetLength(long length);
}

/// <summary>Discards the image; used by verify, which runs every check without writing anything.</summary>
public sealed class DiscardingExtractTarget : IExtractTarget
{
    public ValueTask WriteAtAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct) => ValueTask.CompletedTask;

    public void SetLength(long length)
    {
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// Writes the image into a file, skipping all-zero 4 KiB blocks so holes stay holes (a 9 GiB mostly-empty disk image
/// restores in seconds and occupies only its data).
/// </summary>
public sealed class SparseFileExtractTarget : IExtractTarget
{
    private const int ZeroProbe = 4096;
    private readonly FileStream _file;

    public SparseFileExtractTarget(string path)
    {
        Path = path;
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.Asynchronous);
    }

    public string Path { get; }

    public async ValueTask WriteAtAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        int start = 0;
        while (start < data.Length)
        {
            // Write maximal runs of non-zero probes; skip zero probes entirely.
            int runStart = start;
            while (runStart < data.Length && IsZero(data.Span.Slice(runStart, Math.Min(ZeroProbe, data.Length - runStart))))
            {
                runStart += ZeroProbe;
            }

            if (runStart >= data.Length)
            {
                break;
            }

            int runEnd = runStart;
            while (runEnd < data.Length && !IsZero(data.Span.Slice(runEnd, Math.Min(ZeroProbe, data.Length - runEnd))))
            {
                runEnd += ZeroProbe;
            }

            runEnd = Math.Min(runEnd, data.Length);
            await RandomAccess.WriteAsync(_file.SafeFileHandle, data[runStart..runEnd], offset + runStart, ct).ConfigureAwait(false);
            start = runEnd;
        }
    }

    public void SetLength(long length) => _file.SetLength(length);

    private static bool IsZero(ReadOnlySpan<byte> span) => !span.ContainsAnyExcept((byte)0);

    public async ValueTask DisposeAsync()
    {
        await _file.FlushAsync().ConfigureAwait(false);
        await _file.DisposeAsync().ConfigureAwait(false);
    }
}
