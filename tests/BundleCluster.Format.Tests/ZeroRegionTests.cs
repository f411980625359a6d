using BundleCluster.Format.Bundling;
using BundleCluster.Format.Compression;
using BundleCluster.Format.Tar;
using BundleCluster.Storage.Sources;
using BundleCluster.TestSupport;

namespace BundleCluster.Format.Tests;

/// <summary>Holes and written zeros take a shortcut; the shortcut must never change a byte of the bundle.</summary>
public sealed class ZeroRegionTests : IDisposable
{
    private readonly TempDirectory _dir = new("zeros");

    /// <summary>1 MiB of data, 6 MiB hole, 3 MiB of written zeros, 1 MiB data, 5 MiB trailing hole.</summary>
    private string MakeImage()
    {
        string image = _dir.File("zeros.img");
        ExternalTool.Bash($"""
            truncate -s 16M '{image}'
            head -c 1048576 /dev/urandom | dd of='{image}' conv=notrunc status=none
            head -c 3145728 /dev/zero | dd of='{image}' bs=1M seek=7 conv=notrunc status=none
            head -c 1048576 /dev/urandom | dd of='{image}' bs=1M seek=10 conv=notrunc status=none
            """);
        return image;
    }

    [Fact]
    public async Task The_file_system_reports_holes_and_not_data()
    {
        await using FileImageReader image = FileImageReader.Open(MakeImage());

        Assert.True(image.IsHole(2 << 20, 4 << 20));
        Assert.True(image.IsHole(12 << 20, 4 << 20)); // trailing hole
        Assert.False(image.IsHole(0, 4096));
        Assert.False(image.IsHole(5 << 20, 3 << 20)); // reaches into written zeros, which are data to the file system
    }

    [Fact]
    public async Task Slices_taking_the_zero_shortcut_are_byte_identical_to_compressing_them()
    {
        string path = MakeImage();
        await using FileImageReader image = FileImageReader.Open(path);
        var layout = new TarStreamLayout("zeros.img", image.Length, image.MtimeUnixSeconds);
        var plan = SlicePlan.For(layout.Length, 1 << 20);
        byte[] tar = new byte[layout.Length];
        await layout.ReadAsync(image, 0, tar, CancellationToken.None);
        int shortcuts = 0;

        for (int i = 0; i < plan.Count; i++)
        {
            SliceRange range = plan[i];
            shortcuts += layout.IsKnownZero(image, range.Offset, range.Length) ? 1 : 0;
            using CompressedSlice viaPipeline = await Bundler.CompressAsync(layout, image, range, 6, CancellationToken.None);
            using CompressedSlice direct = DeflateSlice.CompressPooled(tar.AsSpan((int)range.Offset, range.Length), 6);
            Assert.True(direct.Bytes.Span.SequenceEqual(viaPipeline.Bytes.Span), $"slice {i} differs");
            Assert.Equal(direct.Result, viaPipeline.Result);
        }

        Assert.True(shortcuts >= 10, $"only {shortcuts} slices were known zero from holes");
    }

    [Fact]
    public async Task A_bundle_of_holes_and_written_zeros_restores_with_the_real_tools()
    {
        string image = MakeImage();
        TestIdentity user = TestIdentity.User(_dir.Path);
        string manifest = await ReferenceBundler.BundleAsync(image, _dir.Sub("bundle"), user, TestIdentity.Cloud(_dir.Path), sliceSize: 1 << 20);

        string restored = ClassicPipeline.Restore(_dir.Path, manifest, user);

        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "zeros.img")));
    }

    public void Dispose() => _dir.Dispose();
}
