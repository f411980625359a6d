using System.Buffers;
using BundleCluster.Format.Bundling;
using BundleCluster.Format.Compression;
using BundleCluster.Format.Tar;

namespace BundleCluster.Format.Incremental;

/// <summary>
/// The content check of a nightly series: is the image, framed as the previous bundle framed it, byte for byte the
/// tar stream that bundle's (verified) slice index describes? Hashes slice by slice — no compression, nothing
/// written — and stops at the first difference.
/// </summary>
public static class UnchangedImage
{
    public static async Task<bool> MatchesAsync(TarStreamLayout layout, IImageReader image, SliceIndex index, CancellationToken ct)
    {
        if (layout.Length != index.TarLength)
        {
            return false;
        }

        SlicePlan plan = SlicePlan.For(layout.Length, index.SliceSize);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(index.SliceSize);
        try
        {
            for (int i = 0; i < plan.Count; i++)
            {
                SliceRange range = plan[i];
                byte[] sha256;
                if (layout.IsKnownZero(image, range.Offset, range.Length))
                {
                    sha256 = SliceDigest.OfZeros(range.Length);
                }
                else
                {
                    await layout.ReadAsync(image, range.Offset, buffer.AsMemory(0, range.Length), ct).ConfigureAwait(false);
                    ReadOnlySpan<byte> bytes = buffer.AsSpan(0, range.Length);
                    sha256 = ZeroSlices.IsZero(bytes) ? SliceDigest.OfZeros(range.Length) : SliceDigest.Of(bytes);
                }

                if (!SliceDigest.Same(sha256, index.Slices[i].Sha256))
                {
                    return false;
                }
            }

            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
