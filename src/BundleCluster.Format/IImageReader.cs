namespace BundleCluster.Format;

/// <summary>Random-access reads of an image, wherever it lives (a file, an object store).</summary>
public interface IImageReader : IAsyncDisposable
{
    /// <summary>The image length in bytes, fixed when the reader was opened.</summary>
    long Length { get; }

    /// <summary>
    /// Fills <paramref name="destination"/> from <paramref name="offset"/>; throws if the image ends early (it changed
    /// while being read).
    /// </summary>
    ValueTask ReadExactlyAtAsync(long offset, Memory<byte> destination, CancellationToken ct);

    /// <summary>
    /// True when the file system knows the range holds no data (a hole: reads as zeros). False means "unknown", not
    /// "has data": readers that cannot tell always answer false.
    /// </summary>
    bool IsHole(long offset, long length) => false;
}
