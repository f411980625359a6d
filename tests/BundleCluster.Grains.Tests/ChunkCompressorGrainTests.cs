using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Format.Tar;
using BundleCluster.Storage.Sources;
using BundleCluster.TestSupport;

namespace BundleCluster.Grains.Tests;

public sealed class ChunkCompressorGrainTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>, IDisposable
{
    private readonly TempDirectory _dir = new("chunk");

    [Fact]
    public async Task A_compressed_slice_larger_than_4_MiB_is_fetched_in_pieces_of_at_most_4_MiB()
    {
        byte[] data = new byte[9 << 20];
        new Random(1).NextBytes(data); // incompressible: an 8 MiB slice stays over 8 MiB
        string image = _dir.File("random.img");
        File.WriteAllBytes(image, data);
        ImageSlicePlan plan = await PlanAsync(image, sliceSize: 8 << 20);
        var chunk = fixture.Cluster.Client.GetGrain<IChunkCompressorGrain>($"{plan.JobId}/0");

        ChunkSummary summary = await chunk.CompressAsync(plan, 0, attempt: 1, reusableSha256: null);
        CompressedPiece first = await chunk.ReadCompressedAsync(0);
        CompressedPiece second = await chunk.ReadCompressedAsync(first.Bytes.Length);
        CompressedPiece third = await chunk.ReadCompressedAsync(first.Bytes.Length + second.Bytes.Length);

        Assert.True(summary.CompressedLength > 2 * CompressedPiece.MaxBytes);
        Assert.Equal(CompressedPiece.MaxBytes, first.Bytes.Length);
        Assert.Equal(CompressedPiece.MaxBytes, second.Bytes.Length);
        Assert.Equal(summary.CompressedLength, first.Bytes.Length + second.Bytes.Length + third.Bytes.Length);
        await chunk.ReleaseAsync();
    }

    [Fact]
    public async Task A_released_chunk_recompresses_to_identical_bytes()
    {
        string image = TestImages.Create(_dir.File("img"), 3_000_000, seed: 6);
        ImageSlicePlan plan = await PlanAsync(image, sliceSize: 1 << 20);
        var chunk = fixture.Cluster.Client.GetGrain<IChunkCompressorGrain>($"{plan.JobId}/1");
        ChunkSummary before = await chunk.CompressAsync(plan, 1, attempt: 1, reusableSha256: null);
        byte[] bytesBefore = (await chunk.ReadCompressedAsync(0)).Bytes.ToArray(); // a copy: the piece is the grain's buffer
        await chunk.ReleaseAsync();

        await Assert.ThrowsAnyAsync<Exception>(() => chunk.ReadCompressedAsync(0)); // the bytes are gone
        ChunkSummary after = await chunk.CompressAsync(plan, 1, attempt: 1, reusableSha256: null);

        Assert.Equal(before with { Silo = after.Silo, Sha256 = null }, after with { Sha256 = null });
        Assert.Equal(before.Sha256, after.Sha256); // the same slice hash too
        Assert.Equal(bytesBefore, (await chunk.ReadCompressedAsync(0)).Bytes.ToArray());
    }

    private static async Task<ImageSlicePlan> PlanAsync(string image, int sliceSize)
    {
        await using FileImageReader reader = FileImageReader.Open(image);
        var layout = new TarStreamLayout("img", reader.Length, reader.MtimeUnixSeconds);
        return new ImageSlicePlan(Guid.NewGuid().ToString("N"), image, reader.Version, "img", reader.Length,
            reader.MtimeUnixSeconds, layout.Length, sliceSize, 6);
    }

    public void Dispose() => _dir.Dispose();
}
