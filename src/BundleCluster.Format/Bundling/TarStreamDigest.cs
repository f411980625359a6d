using System.Buffers;
using System.Security.Cryptography;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Tar;

namespace BundleCluster.Format.Bundling;

/// <summary>What one pass over the tar stream saw: its SHA-1 (the manifest's digest) and its CRC-32.</summary>
public sealed record TarDigest(string Sha1Hex, uint Crc32);

/// <summary>
/// The image digest: SHA-1 over the exact tar stream (headers, padding, end blocks, record padding), lowercase hex.
/// Sequential by definition, so it runs as one pass beside the parallel compression. The pass also takes the stream's
/// CRC-32, which must equal the CRC-32 the gzip trailer combines from the compressed slices: the digest and the
/// slices read the image separately, and this is how a job knows they read the same bytes.
/// </summary>
public static class TarStreamDigest
{
    /// <summary>Throws when the bytes digested are not the bytes compressed (the image was rewritten mid-job).</summary>
    /// <param name="image">Names the image in the message: "image '/path'" or "the image".</param>
    public static void RequireSameBytes(uint digestedCrc32, uint compressedCrc32, string image)
    {
        if (digestedCrc32 != compressedCrc32)
        {
            throw new BundleException(BundleErrorKind.Failed,
                $"{image} changed while it was being bundled (the bytes digested differ from the bytes compressed: CRC-32 {digestedCrc32:x8} vs {compressedCrc32:x8}); the bundle would not verify");
        }
    }

    private const int BufferSize = 4 << 20;

    public static async Task<TarDigest> ComputeAsync(TarStreamLayout layout, IImageReader image, Action<long>? progress, CancellationToken ct)
    {
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        var crc32 = new System.IO.Hashing.Crc32();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            for (long offset = 0; offset < layout.Length;)
            {
                int n = (int)Math.Min(BufferSize, layout.Length - offset);
                await layout.ReadAsync(image, offset, buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                sha1.AppendData(buffer, 0, n);
                crc32.Append(buffer.AsSpan(0, n));
                offset += n;
                progress?.Invoke(offset);
            }

            return new TarDigest(Convert.ToHexStringLower(sha1.GetHashAndReset()), crc32.GetCurrentHashAsUInt32());
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
