using System.Collections.Concurrent;

namespace BundleCluster.Format.Compression;

/// <summary>
/// Slices of nothing but zeros (free space, holes) are common in disk images and all compress alike: each
/// (length, level) is compressed once, by the same <see cref="DeflateSlice"/> as any other slice — so the bytes are
/// identical to compressing it again — and reused.
/// </summary>
public static class ZeroSlices
{
    private static readonly ConcurrentDictionary<(int Length, int Level), (byte[] Bytes, DeflateSliceResult Result)> Cache = new();

    /// <summary>The compressed form of <paramref name="length"/> zero bytes; disposing it is a no-op.</summary>
    public static CompressedSlice Get(int length, int level)
    {
        (byte[] bytes, DeflateSliceResult result) = Cache.GetOrAdd((length, level), static key =>
        {
            using var output = new MemoryStream();
            DeflateSliceResult r = DeflateSlice.Compress(new byte[key.Length], key.Level, output);
            return (output.ToArray(), r);
        });
        return CompressedSlice.Shared(bytes, result);
    }

    public static bool IsZero(ReadOnlySpan<byte> data) => !data.ContainsAnyExcept((byte)0);
}
