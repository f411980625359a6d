using System.Buffers;
using System.Security.Cryptography;
using BundleCluster.Format.Tar;

namespace BundleCluster.Format.Bundling;

/// <summary>
/// The image digest: SHA-1 over the exact tar stream (headers, padding, end blocks, record padding), lowercase hex.
/// Sequential by definition, so it runs as one pass beside the parallel compression.
/// </summary>
public static class TarStreamDigest
{
    private const int BufferSize = 4 << 20;

    public static async Task<string> ComputeAsync(TarStreamLayout layout, IImageReader image, Action<long>? progress, CancellationToken ct)
    {
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            for (long offset = 0; offset < layout.Length;)
            {
                int n = (int)Math.Min(BufferSize, layout.Length - offset);
                await layout.ReadAsync(image, offset, buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                sha1.AppendData(buffer, 0, n);
                offset += n;
                progress?.Invoke(offset);
            }

            return Convert.ToHexStringLower(sha1.GetHashAndReset());
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
