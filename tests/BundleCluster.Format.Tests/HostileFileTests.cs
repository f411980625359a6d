using BundleCluster.Format.Bundling;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Files;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Manifest;
using BundleCluster.Format.Tar;
using BundleCluster.Format.Unbundling;
using BundleCluster.Storage.Sources;
using BundleCluster.TestSupport;

namespace BundleCluster.Format.Tests;

/// <summary>Images, manifests and tar streams that change under us or lie about themselves.</summary>
public sealed class HostileFileTests : IDisposable
{
    private readonly TempDirectory _dir = new("hostile-files");

    [Fact]
    public async Task An_image_replaced_by_a_same_size_same_mtime_file_is_not_the_planned_version()
    {
        string image = TestImages.Create(_dir.File("a.img"), 1_000_000, seed: 1);
        string version;
        await using (FileImageReader planned = FileImageReader.Open(image))
        {
            version = planned.Version;
        }

        DateTime mtime = File.GetLastWriteTimeUtc(image);
        string swap = TestImages.Create(_dir.File("b.img"), 1_000_000, seed: 2);
        File.SetLastWriteTimeUtc(swap, mtime);
        File.Move(swap, image, overwrite: true); // a rename: same name, size and mtime; another inode

        BundleException refused = Assert.Throws<BundleException>(() => FileImageReader.Open(image, version));

        Assert.Contains("no longer the file that was planned", refused.Message);
    }

    [Fact]
    public async Task A_symlink_swapped_to_a_file_outside_the_roots_is_refused_where_it_is_opened()
    {
        string root = _dir.Sub("root");
        string outside = TestImages.Create(_dir.File("outside.img"), 100_000, seed: 3);
        string inside = TestImages.Create(Path.Combine(root, "inside.img"), 100_000, seed: 4);
        string link = Path.Combine(root, "image.img");
        File.CreateSymbolicLink(link, inside);
        string version;
        await using (FileImageReader planned = FileImageReader.Open(link, admit: f => AllowedRoots.RequireOpened(f, [root], "image")))
        {
            version = planned.Version;
        }

        File.Delete(link);
        File.CreateSymbolicLink(link, outside);

        BundleException confined = Assert.Throws<BundleException>(() => FileImageReader.Open(link, admit: f => AllowedRoots.RequireOpened(f, [root], "image")));
        BundleException pinned = Assert.Throws<BundleException>(() => FileImageReader.Open(link, version));
        Assert.Contains("outside the directories this cluster may use", confined.Message);
        Assert.Contains("no longer the file that was planned", pinned.Message);
    }

    [Fact]
    public async Task An_image_rewritten_in_place_with_its_mtime_restored_fails_the_bundle()
    {
        // The digest and the compressor read the image separately; a rewrite between them (here: the second read of
        // the first bytes differs) must not give a bundle whose manifest digest describes other bytes.
        string image = TestImages.Create(_dir.File("r.img"), 3_000_000, seed: 5);
        await using FileImageReader file = FileImageReader.Open(image);
        var changing = new RewrittenAfterFirstRead(file);
        var layout = new TarStreamLayout("r.img", file.Length, file.MtimeUnixSeconds);
        using BundleKey key = BundleKey.Generate();

        BundleException failed = await Assert.ThrowsAsync<BundleException>(() =>
            Bundler.SealAsync(layout, changing, key, 1, 1 << 20, (_, _) => Task.CompletedTask, parallelism: 1));

        Assert.Contains("changed while it was being bundled", failed.Message);
    }

    [Fact]
    public void The_signed_text_is_cut_from_the_real_elements_not_the_first_match()
    {
        string genuine = "<?xml version='1.0'?><manifest><version>2007-10-10</version>" +
                         "<machine_configuration><architecture>x86_64</architecture></machine_configuration>" +
                         "<image><name>n</name><digest algorithm='SHA1'>" + new string('a', 40) + "</digest><size>1</size>" +
                         "<user_encrypted_key algorithm='AES-128-CBC'>00</user_encrypted_key><user_encrypted_iv>00</user_encrypted_iv>" +
                         "<parts count='1'><part index='0'><filename>n.part.0</filename><digest algorithm='SHA1'>" + new string('b', 40) +
                         "</digest></part></parts></image><signature>00</signature></manifest>";
        string spaced = genuine.Replace("<version>", "\r\n  <version>").Replace("<image>", "\n\t<image>");

        BundleManifest read = ManifestReader.Parse(spaced);

        int mc = spaced.IndexOf("<machine_configuration>", StringComparison.Ordinal);
        int image = spaced.IndexOf("<image>", StringComparison.Ordinal);
        Assert.Equal(spaced[mc..(spaced.IndexOf("</machine_configuration>", StringComparison.Ordinal) + 24)]
                     + spaced[image..(spaced.IndexOf("</image>", StringComparison.Ordinal) + 8)], read.SignedText);
        Assert.Throws<BundleException>(() => ManifestReader.Parse(spaced.Replace("<image>", "<image >")));
        Assert.Throws<BundleException>(() => ManifestReader.Parse(spaced.Replace("<version>", "<!-- <image></image> --><version>")));
    }

    [Theory]
    [InlineData("<unknown/>", "unexpected element <unknown>")]
    [InlineData("<version>2007-10-10</version>", "more than one <version>")]
    [InlineData("stray text", "appears between elements")]
    public void Anything_outside_the_format_is_refused(string insert, string expected)
    {
        string manifest = "<?xml version='1.0'?><manifest><version>2007-10-10</version>" + insert + "<machine_configuration/></manifest>";

        BundleException refused = Assert.Throws<BundleException>(() => ManifestReader.Parse(manifest));

        Assert.Contains(expected, refused.Message);
    }

    [Theory]
    [InlineData(0x7FFF_FFFF_FFFF_FF00L, 0x200L)] // offset + length overflows to a negative number
    [InlineData(0L, 0x7FFF_FFFF_FFFF_FFFFL)]
    public async Task A_sparse_map_whose_region_overflows_is_one_clear_error(long offset, long length)
    {
        byte[] header = new byte[512];
        "image"u8.CopyTo(header);
        header[156] = (byte)'S';
        Base256(header.AsSpan(124, 12), 0); // stored size
        Base256(header.AsSpan(386, 12), offset);
        Base256(header.AsSpan(398, 12), length);
        Base256(header.AsSpan(483, 12), 1 << 20); // real size
        "ustar  \0"u8.CopyTo(header.AsSpan(257));
        WriteChecksum(header);
        using var tar = new MemoryStream([.. header, .. new byte[1024]]);

        BundleException refused = await Assert.ThrowsAsync<BundleException>(() =>
            TarMemberExtractor.ExtractAsync(tar, _ => new DiscardingExtractTarget(), 1 << 20, CancellationToken.None));

        Assert.Contains("sparse", refused.Message);
    }

    [Fact]
    public void A_regular_file_open_reports_what_a_special_file_is()
    {
        string fifo = _dir.File("pipe");
        ExternalTool.Bash($"mkfifo '{fifo}'");

        Assert.Contains("is a FIFO", Assert.Throws<BundleException>(() => RegularFile.Open(fifo, "thing")).Message);
        Assert.Contains("is a character device", Assert.Throws<BundleException>(() => RegularFile.Open("/dev/zero", "thing")).Message);
        Assert.Contains("is a directory", Assert.Throws<BundleException>(() => RegularFile.Open(_dir.Path, "thing")).Message);
        Assert.Equal(BundleErrorKind.FileNotFound, Assert.Throws<BundleException>(() => RegularFile.Open(_dir.File("none"), "thing")).Kind);
    }

    private static void Base256(Span<byte> field, long value)
    {
        field.Clear();
        for (int i = field.Length - 1; i > 0; i--, value >>= 8)
        {
            field[i] = (byte)value;
        }

        field[0] = 0x80;
    }

    private static void WriteChecksum(byte[] header)
    {
        header.AsSpan(148, 8).Fill((byte)' ');
        int sum = header.Sum(b => b);
        System.Text.Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(header, 148);
    }

    /// <summary>Fault injection: the image's first bytes read differently after the first read (a rewrite mid-job).</summary>
    private sealed class RewrittenAfterFirstRead(IImageReader inner) : IImageReader
    {
        private int _readsOfStart;

        public long Length => inner.Length;

        public async ValueTask ReadExactlyAtAsync(long offset, Memory<byte> destination, CancellationToken ct)
        {
            await inner.ReadExactlyAtAsync(offset, destination, ct);
            if (offset == 0 && Interlocked.Increment(ref _readsOfStart) > 1)
            {
                destination.Span[0] ^= 0xFF;
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    public void Dispose() => _dir.Dispose();
}
