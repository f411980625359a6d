using System.Buffers;
using BundleCluster.Format.Compression;
using BundleCluster.Format.Incremental;
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
            CompressedSlice Deflate() => Compress(input.AsSpan(0, range.Length), compressionLevel);
            return runDeflate is null ? Deflate() : await runDeflate(Deflate).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
        }
    }

    /// <summary>
    /// Reads one slice, hashes it (<see cref="SliceDigest"/>) and compresses it — unless its hash equals
    /// <paramref name="reusableSha256"/>, the hash of a slice whose compressed bytes an earlier bundle holds: then it
    /// is not compressed at all (<see cref="HashedSlice.Reusable"/>) and the sealer takes those bytes instead. Slices of
    /// zeros are never reused: their compressed form is at hand without reading anything.
    /// </summary>
    public static async Task<HashedSlice> HashAndCompressAsync(TarStreamLayout layout, IImageReader image, SliceRange range,
        int compressionLevel, byte[]? reusableSha256, CancellationToken ct, Func<Func<HashedSlice>, Task<HashedSlice>>? runCpu = null)
    {
        if (layout.IsKnownZero(image, range.Offset, range.Length))
        {
            return new HashedSlice(ZeroSlices.Get(range.Length, compressionLevel), SliceDigest.OfZeros(range.Length), range.Length);
        }

        byte[] input = ArrayPool<byte>.Shared.Rent(range.Length);
        try
        {
            await layout.ReadAsync(image, range.Offset, input.AsMemory(0, range.Length), ct).ConfigureAwait(false);
            HashedSlice HashAndDeflate()
            {
                ReadOnlySpan<byte> bytes = input.AsSpan(0, range.Length);
                if (ZeroSlices.IsZero(bytes))
                {
                    return new HashedSlice(ZeroSlices.Get(range.Length, compressionLevel), SliceDigest.OfZeros(range.Length), range.Length);
                }

                byte[] sha256 = SliceDigest.Of(bytes);
                return reusableSha256 is not null && SliceDigest.Same(sha256, reusableSha256)
                    ? new HashedSlice(null, sha256, range.Length)
                    : new HashedSlice(DeflateSlice.CompressPooled(bytes, compressionLevel), sha256, range.Length);
            }

            return runCpu is null ? HashAndDeflate() : await runCpu(HashAndDeflate).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
        }
    }

    private static CompressedSlice Compress(ReadOnlySpan<byte> input, int compressionLevel) => ZeroSlices.IsZero(input)
        ? ZeroSlices.Get(input.Length, compressionLevel)
        : DeflateSlice.CompressPooled(input, compressionLevel);
}

/// <summary>
/// A slice read and hashed: its compressed bytes (<see cref="Slice"/>, disposed by the holder), or none when an earlier
/// bundle holds the same slice compressed (<see cref="Reusable"/>).
/// </summary>
public sealed record HashedSlice(CompressedSlice? Slice, byte[] Sha256, int InputLength)
{
    public bool Reusable => Slice is null;
}
