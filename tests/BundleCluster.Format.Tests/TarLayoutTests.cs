using System.Text;
using BundleCluster.Format.Tar;
using BundleCluster.Format.Unbundling;
using BundleCluster.TestSupport;

namespace BundleCluster.Format.Tests;

public sealed class TarLayoutTests
{
    [Theory]
    [InlineData(0, 10240)]
    [InlineData(1, 10240)]
    [InlineData(8704, 10240)]   // 512 + 8704 + 1024 = 10240 exactly
    [InlineData(8705, 20480)]
    public void The_stream_is_padded_to_whole_10240_byte_records(long imageSize, long expectedLength)
    {
        Assert.Equal(expectedLength, new TarStreamLayout("img", imageSize, 0).Length);
    }

    [Fact]
    public void Gnu_tar_lists_our_member_with_its_size_owner_and_mode()
    {
        using var dir = new TempDirectory();
        byte[] data = Encoding.ASCII.GetBytes("some image bytes");
        string tarPath = dir.File("x.tar");
        File.WriteAllBytes(tarPath, Materialize(new TarStreamLayout("disk.img", data.Length, 1_700_000_000), data));

        string listing = ExternalTool.Bash($"tar -tvf '{tarPath}'");

        Assert.Contains("-rw-r--r-- root/root", listing);
        Assert.Contains(" 16 ", listing);
        Assert.Contains("disk.img", listing);
        Assert.Equal("some image bytes", ExternalTool.Bash($"tar -xOf '{tarPath}'"));
    }

    [Fact]
    public void A_name_longer_than_100_bytes_uses_a_gnu_long_name_that_tar_reads()
    {
        using var dir = new TempDirectory();
        string name = new string('n', 150);
        string tarPath = dir.File("x.tar");
        File.WriteAllBytes(tarPath, Materialize(new TarStreamLayout(name, 3, 0), "abc"u8.ToArray()));

        Assert.Equal(name, ExternalTool.Bash($"tar -tf '{tarPath}'").Trim());
    }

    [Fact]
    public void Sizes_of_8_GiB_and_more_use_gnu_base_256()
    {
        byte[] header = TarMemberHeader.Build("big", 9L << 30, 0);

        Assert.Equal(0x80, header[124]);
        Assert.Equal(9L << 30, TarMemberExtractor_ParseNumber(header.AsSpan(124, 12)));
        Assert.Equal(TarMemberHeader.MaxOctalSize, TarMemberExtractor_ParseNumber(TarMemberHeader.Build("x", TarMemberHeader.MaxOctalSize, 0).AsSpan(124, 12)));
    }

    [Fact]
    public void Gnu_tar_reads_our_base_256_size_of_a_9_GiB_member()
    {
        using var dir = new TempDirectory();
        string tarPath = dir.File("head.tar");
        File.WriteAllBytes(tarPath, TarMemberHeader.Build("huge.img", 9L << 30, 0)); // the header alone; tar lists it, then hits EOF

        ExternalTool.Result listing = ExternalTool.Run("tar", ["-tvf", tarPath]);

        Assert.Contains("9663676416", listing.StdOut);
        Assert.Contains("huge.img", listing.StdOut);
    }

    private static long TarMemberExtractor_ParseNumber(ReadOnlySpan<byte> field) => TarMemberExtractor.ParseNumber(field, "size");

    internal static byte[] Materialize(TarStreamLayout layout, byte[] image)
    {
        byte[] tar = new byte[layout.Length];
        layout.ReadAsync(new MemoryImage(image), 0, tar, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        return tar;
    }
}

/// <summary>An image held in memory.</summary>
internal sealed class MemoryImage(byte[] data) : IImageReader
{
    public long Length => data.Length;

    public ValueTask ReadExactlyAtAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        data.AsSpan((int)offset, destination.Length).CopyTo(destination.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
