using System.Buffers;
using System.IO.Compression;
using System.IO.Hashing;

namespace BundleCluster.Format.Compression;

/// <summary>One slice of the tar stream compressed on its own: its raw-deflate bytes and what the gzip trailer needs.</summary>
public readonly record struct DeflateSliceResult(int CompressedLength, uint Crc32, int InputLength);

/// <summary>
/// Compresses a slice of the tar stream as raw deflate ended by a sync flush (byte-aligned, no final-block bit), so
/// slices compressed anywhere, in any order, concatenate into one valid deflate stream — the pigz technique. The same
/// input and level always give the same bytes (zlib-ng is deterministic), so redone work is identical.
/// </summary>
public static class DeflateSlice
{
    /// <summary>A final, empty fixed-Huffman block: what closes the concatenated slices into a complete deflate stream.</summary>
    public static ReadOnlySpan<byte> FinalBlock => [0x03, 0x00];

    /// <summary>
    /// An upper bound of a slice's compressed length, for buffer sizing. zlib-ng's level-1 "quick" strategy emits static
    /// Huffman codes, where incompressible input can grow by up to 1/8; every other level falls back to stored blocks.
    /// </summary>
    public static int MaxCompressedLength(int inputLength) => inputLength + (inputLength >> 3) + 64 * 1024;

    /// <summary>Compresses into a pooled buffer the caller disposes.</summary>
    public static CompressedSlice CompressPooled(ReadOnlySpan<byte> input, int level)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(MaxCompressedLength(input.Length));
        try
        {
            using var output = new MemoryStream(buffer, 0, buffer.Length, writable: true, publiclyVisible: true);
            output.SetLength(0);
            DeflateSliceResult result = Compress(input, level, output);
            return new CompressedSlice(buffer, result);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>Compresses <paramref name="input"/> and appends the bytes to <paramref name="output"/>.</summary>
    public static DeflateSliceResult Compress(ReadOnlySpan<byte> input, int level, Stream output)
    {
        if (level is < 1 or > 9)
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, "compression level must be 1-9");
        }

        long start = output.Position;
        long flushedEnd;
        using (var deflate = new DeflateStream(output, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true))
        {
            deflate.Write(input);
            deflate.Flush(); // Z_SYNC_FLUSH: ends on a byte boundary with an empty stored block, no BFINAL.
            flushedEnd = output.Position;
        }

        // Disposing the DeflateStream appended a final block; the slice must end at the sync flush instead.
        output.SetLength(flushedEnd);
        output.Position = flushedEnd;
        return new DeflateSliceResult(checked((int)(flushedEnd - start)), Crc32.HashToUInt32(input), input.Length);
    }
}
