using System.IO.Compression;
using System.IO.Hashing;
using BundleCluster.Format.Compression;
using CsCheck;

namespace BundleCluster.Format.Tests;

public sealed class CompressionTests
{
    [Fact]
    public void A_slice_ends_with_a_sync_flush_and_no_final_block()
    {
        byte[] input = "hello hello hello hello"u8.ToArray();
        using var output = new MemoryStream();

        DeflateSlice.Compress(input, 6, output);

        Assert.Equal([0x00, 0x00, 0xFF, 0xFF], output.ToArray()[^4..]);
        Assert.Equal(0, output.ToArray()[0] & 1); // BFINAL clear on the first block
    }

    [Fact]
    public void Crc32_combine_equals_the_crc_of_the_concatenation()
    {
        Gen.Select(Gen.Byte.Array[0, 3000], Gen.Byte.Array[0, 3000]).Sample((a, b) =>
        {
            uint combined = Crc32Combine.Combine(Crc32.HashToUInt32(a), Crc32.HashToUInt32(b), b.Length);
            return combined == Crc32.HashToUInt32([.. a, .. b]);
        }, iter: 300);
    }

    [Fact]
    public void Crc32_combine_handles_lengths_beyond_4_GiB()
    {
        // crc(A ++ 5 GiB of zeros ++ B) computed two ways: combining zero runs in steps must match one 5 GiB step.
        uint zeros1G = Crc32.HashToUInt32(new byte[1 << 20]);
        for (int i = 1; i < 1024; i++)
        {
            zeros1G = Crc32Combine.Combine(zeros1G, Crc32.HashToUInt32(new byte[1 << 20]), 1 << 20);
        }

        uint stepwise = 0;
        for (int i = 0; i < 5; i++)
        {
            stepwise = Crc32Combine.Combine(stepwise, zeros1G, 1L << 30);
        }

        uint zeros5G = Crc32Combine.Combine(zeros1G, Crc32Combine.Combine(zeros1G,
            Crc32Combine.Combine(zeros1G, Crc32Combine.Combine(zeros1G, zeros1G, 1L << 30), 2L << 30), 3L << 30), 4L << 30);
        Assert.Equal(stepwise, zeros5G);
    }

    [Fact]
    public void Slices_compressed_independently_form_one_gzip_member_that_gunzips_to_the_input()
    {
        Gen.Select(Gen.Byte[0, 8].Array[0, 200_000], Gen.Int[1, 70_000], Gen.Int[1, 9]).Sample((input, sliceSize, level) =>
        {
            byte[] gzip = GzipOf(input, sliceSize, level);
            using var gunzip = new GZipStream(new MemoryStream(gzip), CompressionMode.Decompress);
            using var restored = new MemoryStream();
            gunzip.CopyTo(restored);
            return restored.ToArray().AsSpan().SequenceEqual(input);
        }, iter: 60);
    }

    [Fact]
    public void The_same_slice_compresses_to_the_same_bytes_every_time()
    {
        byte[] input = new byte[300_000];
        new Random(7).NextBytes(input.AsSpan(0, 100_000));
        using CompressedSlice first = DeflateSlice.CompressPooled(input, 9);
        using CompressedSlice again = DeflateSlice.CompressPooled(input, 9);

        Assert.True(first.Bytes.Span.SequenceEqual(again.Bytes.Span));
        Assert.Equal(first.Result, again.Result);
    }

    [Fact]
    public void Incompressible_input_fits_the_slice_buffer_bound_at_every_level()
    {
        byte[] input = new byte[1 << 20];
        new Random(3).NextBytes(input);
        for (int level = 1; level <= 9; level++)
        {
            using CompressedSlice slice = DeflateSlice.CompressPooled(input, level);
            Assert.True(slice.Result.CompressedLength <= DeflateSlice.MaxCompressedLength(input.Length));
        }
    }

    internal static byte[] GzipOf(byte[] input, int sliceSize, int level)
    {
        var framing = new GzipMemberFraming();
        using var gzip = new MemoryStream();
        gzip.Write(GzipMemberFraming.Header(level));
        for (int offset = 0; offset < input.Length; offset += sliceSize)
        {
            int n = Math.Min(sliceSize, input.Length - offset);
            using CompressedSlice slice = DeflateSlice.CompressPooled(input.AsSpan(offset, n), level);
            framing.AddSlice(slice.Result.Crc32, n);
            gzip.Write(slice.Bytes.Span);
        }

        gzip.Write(framing.Trailer());
        return gzip.ToArray();
    }
}
