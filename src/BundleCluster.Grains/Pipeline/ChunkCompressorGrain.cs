using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Format.Bundling;
using BundleCluster.Format.Compression;
using BundleCluster.Grains.Placement;
using BundleCluster.Storage.Sources;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// Compresses one slice of the tar stream where it is placed, reading the slice's byte range straight from the image,
/// and keeps the result until the sealer has fetched it in pieces of at most 4 MiB. A fresh activation (after its silo
/// died) simply compresses again: deflate is deterministic, so the bytes are the same.
/// </summary>
[SpreadPlacement]
internal sealed class ChunkCompressorGrain(CpuWorkLimiter cpu, ILocalSiloDetails silo) : Grain, IChunkCompressorGrain
{
    private CompressedSlice? _slice;
    private ChunkSummary? _summary;

    public async Task<ChunkSummary> CompressAsync(ImageSlicePlan plan, int index)
    {
        if (_summary is not null && _summary.Index == index)
        {
            return _summary;
        }

        SliceRange range = plan.Slices()[index];
        CompressedSlice slice = await cpu.RunAsync(async () =>
        {
            await using BundleCluster.Format.IImageReader image = await plan.OpenImageAsync(CancellationToken.None);
            return await Bundler.CompressAsync(plan.Layout(), image, range, plan.CompressionLevel, CancellationToken.None);
        });
        _slice?.Dispose();
        _slice = slice;
        _summary = new ChunkSummary(index, slice.Result.InputLength, slice.Result.CompressedLength, slice.Result.Crc32,
            silo.SiloAddress.ToString());
        return _summary;
    }

    public Task<CompressedPiece> ReadCompressedAsync(int offset)
    {
        if (_slice is null)
        {
            throw new InvalidOperationException($"chunk {this.GetPrimaryKeyString()} holds no compressed bytes (it was re-activated); compress it again");
        }

        ReadOnlyMemory<byte> bytes = _slice.Bytes;
        int count = Math.Min(CompressedPiece.MaxBytes, bytes.Length - offset);
        return Task.FromResult(new CompressedPiece(bytes.Slice(offset, count)));
    }

    public Task ReleaseAsync()
    {
        _slice?.Dispose();
        _slice = null;
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _slice?.Dispose();
        _slice = null;
        return Task.CompletedTask;
    }
}
