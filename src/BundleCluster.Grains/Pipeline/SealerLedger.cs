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
    private readonly List<(int Slice, long GzipStart, int Length, uint CrcBefore, long InputBefore, bool FromBaseline)> _slices = [];
    private readonly ConcurrentDictionary<int, (SealedPartInfo Part, byte[] Chain)> _durable = new();
    private IReadOnlySet<int> _stagedBefore = new HashSet<int>();
    private int _partsRewritten = checkpoint.PartsRewritten;

    public SealerCheckpoint Checkpoint => checkpoint;

    /// <summary>Durable parts written again so far, by this sealer and the ones before it.</summary>
    public int PartsRewritten => Volatile.Read(ref _partsRewritten);

    /// <summary>True when <see cref="PartsRewritten"/> has grown since the checkpoint last recorded it.</summary>
    public bool RewritesUnsaved => PartsRewritten != checkpoint.PartsRewritten;

    /// <summary>
    /// The parts an earlier sealer left staged past the point this one resumes from: writing one of them again is a
    /// rewrite, the cost of a sealer lost between two checkpoints.
    /// </summary>
    public void StagedBefore(IReadOnlySet<int> parts) => _stagedBefore = parts;

    /// <summary>
    /// Records a slice about to be appended: its gzip offset, the framing of the slices before it, and whether its bytes
    /// come from the baseline bundle (a sealer resuming inside it must take them from the same place).
    /// </summary>
    public void SliceStarting(int slice, long gzipStart, int compressedLength, uint crcBefore, long inputBefore, bool fromBaseline = false) =>
        _slices.Add((slice, gzipStart, compressedLength, crcBefore, inputBefore, fromBaseline));

    /// <summary>Called once a part is durably staged (any thread); keeps what the checkpoint needs of it.</summary>
    /// <summary>True when an earlier sealer left part <paramref name="index"/> staged past the checkpoint.</summary>
    public bool WasStagedBefore(int index) => _stagedBefore.Contains(index);

    /// <summary>A part an earlier sealer had staged with exactly these bytes: durable without being written again.</summary>
    public void PartKept(SealedPart part) =>
        _durable[part.Index] = (new SealedPartInfo(part.Index, part.Length, part.Sha1Hex), part.Data.Span[^16..].ToArray());

    public void PartDurable(SealedPart part)
    {
        _durable[part.Index] = (new SealedPartInfo(part.Index, part.Length, part.Sha1Hex), part.Data.Span[^16..].ToArray());
        if (_stagedBefore.Contains(part.Index))
        {
            Interlocked.Increment(ref _partsRewritten);
        }
    }

    /// <summary>Advances the checkpoint over the parts durable in order; true when it changed (and should be saved).</summary>
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
            checkpoint.ResumeSliceLength = slice.Length;
            checkpoint.ResumeSliceFromBaseline = slice.FromBaseline;
            checkpoint.GzipOffset = boundary;
            checkpoint.CrcOfWholeSlices = slice.CrcBefore;
            checkpoint.InputOfWholeSlices = slice.InputBefore;
            _slices.RemoveRange(0, at);
            moved = true;
        }

        if (moved || RewritesUnsaved)
        {
            checkpoint.PartsRewritten = PartsRewritten;
            return true;
        }

        return false;
    }

    /// <summary>The gzip offset at which the next appended slice starts (the header comes first).</summary>
    public static long NextSliceStart(long gzipLengthSoFar) => Math.Max(gzipLengthSoFar, GzipMemberFraming.HeaderLength);
}
