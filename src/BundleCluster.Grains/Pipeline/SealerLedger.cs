using System.Collections.Concurrent;
using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Format.Compression;
using BundleCluster.Format.Parts;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// Tracks where each slice sits in the gzip stream and which parts are durable, and moves the sealer's checkpoint to
/// the latest part boundary behind which every part is durable. Parts are reported from the writer's threads;
/// everything else runs on the sealer grain.
/// </summary>
internal sealed class SealerLedger(SealerCheckpoint checkpoint)
{
    private readonly List<(int Slice, long GzipStart, int Length, uint CrcBefore, long InputBefore)> _slices = [];
    private readonly ConcurrentDictionary<int, (SealedPartInfo Part, byte[] Chain)> _durable = new();

    public SealerCheckpoint Checkpoint => checkpoint;

    /// <summary>Records a slice about to be appended: its gzip offset and the framing of the slices before it.</summary>
    public void SliceStarting(int slice, long gzipStart, int compressedLength, uint crcBefore, long inputBefore) =>
        _slices.Add((slice, gzipStart, compressedLength, crcBefore, inputBefore));

    /// <summary>Called once a part is durably staged (any thread); keeps what the checkpoint needs of it.</summary>
    public void PartDurable(SealedPart part) =>
        _durable[part.Index] = (new SealedPartInfo(part.Index, part.Length, part.Sha1Hex), part.Data.Span[^16..].ToArray());

    /// <summary>Advances the checkpoint over the parts durable in order; true when it moved (and should be saved).</summary>
    public bool TryAdvance()
    {
        bool moved = false;
        while (_durable.TryGetValue(checkpoint.Parts.Count, out var durable))
        {
            long boundary = (long)(checkpoint.Parts.Count + 1) * Format.BundleFileNames.PartSize;
            int at = _slices.FindIndex(s => boundary < s.GzipStart + s.Length);
            if (at < 0)
            {
                break; // the boundary is where the next slice will start; decide once it has
            }

            var slice = _slices[at];
            _durable.TryRemove(checkpoint.Parts.Count, out _);
            checkpoint.Parts.Add(durable.Part);
            checkpoint.ChainBlock = durable.Chain;
            checkpoint.NextSlice = slice.Slice;
            checkpoint.OffsetInSlice = (int)(boundary - slice.GzipStart);
            checkpoint.GzipOffset = boundary;
            checkpoint.CrcOfWholeSlices = slice.CrcBefore;
            checkpoint.InputOfWholeSlices = slice.InputBefore;
            _slices.RemoveRange(0, at);
            moved = true;
        }

        return moved;
    }

    /// <summary>The gzip offset at which the next appended slice starts (the header comes first).</summary>
    public static long NextSliceStart(long gzipLengthSoFar) => Math.Max(gzipLengthSoFar, GzipMemberFraming.HeaderLength);
}
