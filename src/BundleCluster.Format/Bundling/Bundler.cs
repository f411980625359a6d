using System.Buffers;
using BundleCluster.Format.Compression;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Parts;
using BundleCluster.Format.Tar;

namespace BundleCluster.Format.Bundling;

/// <summary>A sealed bundle before its manifest is written.</summary>
public sealed record SealedBundle(SealResult Seal, string TarDigestHex);

/// <summary>
/// The whole bundle pipeline in one process: slices compressed on every core (a bounded window ahead of the sealer),
/// the tar-stream SHA-1 in one pass beside them, and the sequential sealer. This is the reference the grain pipeline
/// must agree with byte for byte, and the engine tests use to pin format invariants.
/// </summary>
public static class Bundler
{
    public static async Task<SealedBundle> SealAsync(
        TarStreamLayout layout,
        IImageReader image,
        BundleKey key,
        int compressionLevel,
        int sliceSize,
        Func<SealedPart, CancellationToken, Task> writePart,
        int? parallelism = null,
        CancellationToken ct = default)
    {
        int workers = Math.Max(1, parallelism ?? Environment.ProcessorCount);
        SlicePlan plan = SlicePlan.For(layout.Length, sliceSize);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task<TarDigest> digest = Task.Run(() => TarStreamDigest.ComputeAsync(layout, image, null, cts.Token), cts.Token);
        var window = new Queue<Task<CompressedSlice>>();
        await using var writer = new BoundedPartWriter(writePart);
        try
        {
            using var sealer = new BundleSealer(key, compressionLevel, writer.EnqueueAsync);
            int next = 0;
            while (next < plan.Count || window.Count > 0)
            {
                while (window.Count < 4 * workers && next < plan.Count)
                {
                    SliceRange range = plan[next++];
                    window.Enqueue(Task.Run(() => CompressAsync(layout, image, range, compressionLevel, cts.Token), cts.Token));
                }

                using CompressedSlice slice = await window.Dequeue().ConfigureAwait(false);
                await sealer.AppendSliceAsync(slice.Bytes, slice.Result.Crc32, slice.Result.InputLength, cts.Token).ConfigureAwait(false);
            }

            SealResult seal = await sealer.FinishAsync(cts.Token).ConfigureAwait(false);
            await writer.DrainAsync().ConfigureAwait(false);
            TarDigest digested = await digest.ConfigureAwait(false);
            TarStreamDigest.RequireSameBytes(digested.Crc32, sealer.Framing.Crc32, "the image");
            return new SealedBundle(seal, digested.Sha1Hex);
        }
        catch
        {
            await cts.CancelAsync().ConfigureAwait(false);
            foreach (Task<CompressedSlice> pending in window)
            {
                try
                {
                    (await pending.ConfigureAwait(false)).Dispose();
                }
                catch (Exception)
                {
                    // cancelled work; the original failure is what matters
                }
            }

            try
            {
                await digest.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // as above
            }

            throw;
        }
    }

    /// <summary>
    /// Reads one slice of the tar stream and compresses it. A slice that is all zeros — known from the file system's
    /// holes without reading, or seen after reading — takes the precomputed <see cref="ZeroSlices"/> bytes.
    /// </summary>
    /// <param name="runDeflate">
    /// Where the CPU-bound part (the zero check and deflate, after the read) runs; inline when null. A silo runs it on
    /// its compression threads so that compression never occupies the threads its grains and I/O run on.
    /// </param>
    public static async Task<CompressedSlice> CompressAsync(TarStreamLayout layout, IImageReader image, SliceRange range,
        int compressionLevel, CancellationToken ct, Func<Func<CompressedSlice>, Task<CompressedSlice>>? runDeflate = null)
    {
        if (layout.IsKnownZero(image, range.Offset, range.Length))
        {
            return ZeroSlices.Get(range.Length, compressionLevel);
        }

        byte[] input = ArrayPool<byte>.Shared.Rent(range.Length);
        try
        {
            await layout.ReadAsync(image, range.Offset, input.AsMemory(0, range.Length), ct).ConfigureAwait(false);
            CompressedSlice Deflate() => ZeroSlices.IsZero(input.AsSpan(0, range.Length))
                ? ZeroSlices.Get(range.Length, compressionLevel)
                : DeflateSlice.CompressPooled(input.AsSpan(0, range.Length), compressionLevel);
            return runDeflate is null ? Deflate() : await runDeflate(Deflate).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
        }
    }
}
