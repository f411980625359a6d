using BundleCluster.Format.Bundling;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Manifest;
using BundleCluster.Format.Parts;
using BundleCluster.Format.Tar;
using BundleCluster.Format.Unbundling;
using BundleCluster.Storage.Sources;
using BundleCluster.TestSupport;
using CsCheck;

namespace BundleCluster.Format.Tests;

public sealed class RoundTripTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(511)]
    [InlineData(512)]
    [InlineData(513)]
    [InlineData(BundleFileNames.PartSize)]          // an image of exactly one part's size
    [InlineData(BundleFileNames.PartSize + 1)]      // one byte over
    public async Task Images_of_awkward_sizes_restore_byte_identical(long size)
    {
        using var dir = new TempDirectory();
        BundleManifest manifest = await RoundTripAsync(dir, size, seed: (int)(size % 1000));

        Assert.Equal(size, manifest.Image.Size);
    }

    [Fact]
    public async Task A_multi_part_image_with_sparse_holes_restores_byte_identical_and_stays_sparse()
    {
        using var dir = new TempDirectory();
        BundleManifest manifest = await RoundTripAsync(dir, 80L << 20, seed: 5, withHoles: true);

        Assert.True(manifest.Image.Parts.Count >= 2);
        long allocatedBytes = long.Parse(ExternalTool.Bash($"stat -c %b '{dir.File("restored/image")}'").Trim()) * 512;
        Assert.True(allocatedBytes < (80L << 20) * 3 / 4, $"restored image occupies {allocatedBytes} bytes; its holes were filled");
        Assert.Equal(["image.part.0", "image.part.1"], manifest.Image.Parts.Take(2).Select(p => p.FileName));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_ciphertext_of_exactly_n_parts_has_no_empty_trailing_part(int parts)
    {
        using var dir = new TempDirectory();
        long size = await ImageSizeForCiphertextAsync(dir, (long)parts * BundleFileNames.PartSize);

        BundleManifest manifest = await RoundTripAsync(dir, size, seed: 11, randomOnly: true);

        Assert.Equal((long)parts * BundleFileNames.PartSize, manifest.Image.BundledSize);
        Assert.Equal(parts, manifest.Image.Parts.Count);
    }

    [Fact]
    public async Task Random_sizes_and_slice_sizes_round_trip()
    {
        await Gen.Select(Gen.Long[0, 3_000_000], Gen.Int[64 * 1024, 1 << 20], Gen.Int[1, 9]).SampleAsync(async (size, slice, level) =>
        {
            using var dir = new TempDirectory();
            await RoundTripAsync(dir, size, seed: (int)size, sliceSize: slice, level: level);
        }, iter: 12, threads: 1);
    }

    [Fact]
    public async Task The_digest_and_the_restored_image_do_not_depend_on_slice_size_or_core_count()
    {
        using var dir = new TempDirectory();
        string image = TestImages.Create(dir.File("image"), 5_000_000, seed: 9, withHoles: true);
        TestIdentity user = TestIdentity.User(dir.Path);
        TestIdentity cloud = TestIdentity.Cloud(dir.Path);
        var digests = new HashSet<string>();
        foreach ((int slice, int cores) in new[] { (64 * 1024, 1), (1 << 20, 2), (4 << 20, 4), (300_000, 3) })
        {
            string dest = dir.Sub($"out-{slice}-{cores}");
            string manifestPath = await ReferenceBundler.BundleAsync(image, dest, user, cloud, sliceSize: slice, parallelism: cores);
            digests.Add(ManifestReader.Parse(File.ReadAllText(manifestPath)).Image.DigestSha1Hex);
            string restored = dir.Sub($"restored-{slice}-{cores}");
            await Unbundler.RunAsync(new UnbundleRequest(manifestPath, user.PrivateKeyPath, DirectoryPartSource.ForDirectory(dest), restored));
            Assert.True(TestImages.SameContent(image, Path.Combine(restored, "image")));
        }

        Assert.Single(digests);
    }

    [Fact]
    public async Task For_a_fixed_slice_size_the_compressed_bytes_do_not_depend_on_core_count()
    {
        using var dir = new TempDirectory();
        string image = TestImages.Create(dir.File("image"), 6_000_000, seed: 4);
        var outputs = new List<byte[]>();
        foreach (int cores in new[] { 1, 2, 5 })
        {
            outputs.Add(await CiphertextAsync(image, cores));
        }

        Assert.All(outputs, o => Assert.Equal(outputs[0], o));
    }

    [Fact]
    public async Task Slices_compressed_in_any_completion_order_assemble_to_the_same_gzip_stream()
    {
        byte[] data = new byte[3_500_000];
        new Random(17).NextBytes(data.AsSpan(0, 1_000_000));
        var image = new MemoryImage(data);
        var layout = new TarStreamLayout("image", data.Length, 0);
        var plan = SlicePlan.For(layout.Length, 128 * 1024);
        var inOrder = new List<byte[]>();
        for (int i = 0; i < plan.Count; i++)
        {
            using var slice = await Bundler.CompressAsync(layout, image, plan[i], 6, CancellationToken.None);
            inOrder.Add(slice.Bytes.ToArray());
        }

        var shuffled = new byte[plan.Count][];
        int[] order = Enumerable.Range(0, plan.Count).OrderBy(_ => Random.Shared.Next()).ToArray();
        await Parallel.ForEachAsync(order, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
        {
            using var slice = await Bundler.CompressAsync(layout, image, plan[i], 6, ct);
            shuffled[i] = slice.Bytes.ToArray();
        });

        Assert.Equal(inOrder, shuffled);
    }

    internal static async Task<BundleManifest> RoundTripAsync(TempDirectory dir, long size, int seed, bool withHoles = false,
        bool randomOnly = false, int sliceSize = 4 << 20, int level = 6)
    {
        string image = dir.File("image");
        if (randomOnly)
        {
            File.WriteAllBytes(image, RandomBytes(size, seed));
        }
        else
        {
            TestImages.Create(image, size, seed, withHoles);
        }

        TestIdentity user = TestIdentity.User(dir.Path);
        TestIdentity cloud = TestIdentity.Cloud(dir.Path);
        string dest = dir.Sub("bundle");
        string manifestPath = await ReferenceBundler.BundleAsync(image, dest, user, cloud, sliceSize: sliceSize, level: level);
        string restored = dir.Sub("restored");

        UnbundleResult result = await Unbundler.RunAsync(new UnbundleRequest(manifestPath, user.PrivateKeyPath,
            DirectoryPartSource.ForDirectory(dest), restored, user.CertificatePath));

        Assert.True(result.SignatureVerified);
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "image")), $"image of {size} bytes differs after the round trip");
        BundleManifest manifest = ManifestReader.Parse(File.ReadAllText(manifestPath));
        foreach (ManifestPart part in manifest.Image.Parts.SkipLast(1))
        {
            Assert.Equal(BundleFileNames.PartSize, new FileInfo(Path.Combine(dest, part.FileName)).Length);
        }

        Assert.Empty(Directory.GetDirectories(dest)); // no staging left behind
        return manifest;
    }

    private static byte[] RandomBytes(long size, int seed)
    {
        byte[] data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Finds a random-content image size whose bundle ciphertext is exactly <paramref name="target"/> bytes.</summary>
    private static async Task<long> ImageSizeForCiphertextAsync(TempDirectory dir, long target)
    {
        long size = target - 64 * 1024;
        for (int attempt = 0; attempt < 40; attempt++)
        {
            byte[] data = RandomBytes(size, 11);
            var layout = new TarStreamLayout("image", size, new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).ToUnixTimeSeconds());
            using BundleKey key = BundleKey.Generate();
            SealedBundle sealedBundle = await Bundler.SealAsync(layout, new MemoryImage(data), key, 6, 4 << 20,
                (part, ct) => Task.CompletedTask);
            long bundled = sealedBundle.Seal.BundledSize;
            if (bundled == target)
            {
                return size;
            }

            // Random data is stored: the ciphertext grows by about one byte per image byte; step toward the
            // middle of the 16-byte window that pads to the target.
            size += target - 8 - sealedBundle.Seal.GzipLength;
        }

        throw new InvalidOperationException("no image size found whose ciphertext is an exact multiple of the part size");
    }

    private static async Task<byte[]> CiphertextAsync(string imagePath, int cores)
    {
        await using FileImageReader image = FileImageReader.Open(imagePath);
        var layout = new TarStreamLayout("image", image.Length, image.MtimeUnixSeconds);
        using var key = new BundleKey(new byte[16], new byte[16]);
        var ciphertext = new MemoryStream();
        await Bundler.SealAsync(layout, image, key, 6, 256 * 1024,
            (part, ct) =>
            {
                lock (ciphertext)
                {
                    ciphertext.Position = (long)part.Index * BundleFileNames.PartSize;
                    ciphertext.Write(part.Data.Span);
                }

                return Task.CompletedTask;
            }, cores);
        return ciphertext.ToArray();
    }
}
