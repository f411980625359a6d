using BundleCluster.Format.Bundling;
using BundleCluster.Format.Compression;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Parts;
using BundleCluster.Grains.Pipeline;

namespace BundleCluster.Grains.Tests;

/// <summary>A sealer resumed at a checkpointed part boundary writes exactly the parts an uninterrupted one writes.</summary>
public sealed class SealerResumeTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Resuming_at_a_part_boundary_continues_byte_identical(int partsBeforeLoss)
    {
        byte[] data = new byte[60_000_000];
        new Random(7).NextBytes(data.AsSpan(0, 45_000_000)); // mostly incompressible: several parts
        const int sliceSize = 1 << 20;
        var slices = new List<CompressedSlice>();
        for (int offset = 0; offset < data.Length; offset += sliceSize)
        {
            slices.Add(DeflateSlice.CompressPooled(data.AsSpan(offset, Math.Min(sliceSize, data.Length - offset)), 6));
        }

        using var key = BundleKey.Generate();
        var fullParts = new Dictionary<int, byte[]>();
        var ledger = new SealerLedger(new SealerCheckpoint());
        SealerCheckpoint? snapshot = null;
        using (var sealer = new BundleSealer(key, 6, (part, ct) =>
               {
                   fullParts[part.Index] = part.Data.ToArray();
                   ledger.PartDurable(part);
                   part.Dispose();
                   return ValueTask.CompletedTask;
               }))
        {
            for (int i = 0; i < slices.Count; i++)
            {
                (uint crc, long input) = sealer.Framing;
                ledger.SliceStarting(i, SealerLedger.NextSliceStart(sealer.GzipLength), slices[i].Result.CompressedLength, crc, input);
                await sealer.AppendSliceAsync(slices[i].Bytes, slices[i].Result.Crc32, slices[i].Result.InputLength, CancellationToken.None);
                if (ledger.TryAdvance() && snapshot is null && ledger.Checkpoint.Parts.Count >= partsBeforeLoss)
                {
                    snapshot = Clone(ledger.Checkpoint);
                }
            }

            await sealer.FinishAsync(CancellationToken.None);
        }

        Assert.NotNull(snapshot);
        var resumedParts = new Dictionary<int, byte[]>();
        var resume = new SealerResumePoint(snapshot.Parts.Select(p => new PartRecord(p.Index, p.Length, p.Sha1Hex)).ToList(),
            snapshot.ChainBlock, snapshot.GzipOffset, snapshot.CrcOfWholeSlices, snapshot.InputOfWholeSlices);
        SealResult result;
        using (var resumed = new BundleSealer(key, 6, (part, ct) =>
               {
                   resumedParts[part.Index] = part.Data.ToArray();
                   part.Dispose();
                   return ValueTask.CompletedTask;
               }, resume))
        {
            CompressedSlice first = slices[snapshot.NextSlice];
            await resumed.AppendCompressedAsync(first.Bytes[snapshot.OffsetInSlice..], CancellationToken.None);
            resumed.AccountSlice(first.Result.Crc32, first.Result.InputLength);
            for (int i = snapshot.NextSlice + 1; i < slices.Count; i++)
            {
                await resumed.AppendSliceAsync(slices[i].Bytes, slices[i].Result.Crc32, slices[i].Result.InputLength, CancellationToken.None);
            }

            result = await resumed.FinishAsync(CancellationToken.None);
        }

        Assert.Equal(snapshot.Parts.Count, resumedParts.Keys.Min()); // the durable parts were not rewritten
        Assert.Equal(fullParts.Count, result.Parts.Count);
        foreach ((int index, byte[] bytes) in resumedParts)
        {
            Assert.True(fullParts[index].AsSpan().SequenceEqual(bytes), $"part {index} differs after the resume");
        }

        slices.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task Parts_an_earlier_sealer_left_staged_count_as_rewritten_unless_kept_on_top_of_earlier_rewrites_and_reach_the_checkpoint()
    {
        byte[] data = new byte[36_000_000];
        new Random(8).NextBytes(data); // incompressible: three full parts and a short one
        using var key = BundleKey.Generate();
        var ledger = new SealerLedger(new SealerCheckpoint { PartsRewritten = 4 });
        ledger.StagedBefore(new HashSet<int> { 1, 2, 9 }); // a lost sealer staged parts 1 and 2 (9 was never reached)
        var written = new List<int>();
        using (var sealer = new BundleSealer(key, 1, (part, ct) =>
               {
                   written.Add(part.Index);
                   if (part.Index == 2)
                   {
                       ledger.PartKept(part); // its staged bytes were these: kept, not written again
                   }
                   else
                   {
                       ledger.PartDurable(part);
                   }

                   part.Dispose();
                   return ValueTask.CompletedTask;
               }))
        {
            const int sliceSize = 1 << 20;
            for (int offset = 0; offset < data.Length; offset += sliceSize)
            {
                using CompressedSlice slice = DeflateSlice.CompressPooled(data.AsSpan(offset, Math.Min(sliceSize, data.Length - offset)), 1);
                (uint crc, long input) = sealer.Framing;
                ledger.SliceStarting(offset / sliceSize, SealerLedger.NextSliceStart(sealer.GzipLength), slice.Result.CompressedLength, crc, input);
                await sealer.AppendSliceAsync(slice.Bytes, slice.Result.Crc32, slice.Result.InputLength, CancellationToken.None);
                ledger.TryAdvance();
            }

            await sealer.FinishAsync(CancellationToken.None);
        }

        Assert.Equal([0, 1, 2, 3], written);
        Assert.Equal(5, ledger.PartsRewritten); // part 1 written again; part 2 kept
        Assert.Equal(5, ledger.Checkpoint.PartsRewritten); // saved with the checkpoint, so the next sealer adds to it
        Assert.Equal(3, ledger.Checkpoint.Parts.Count); // kept part 2 is checkpointed like a written one (the short last part never is)
        Assert.False(ledger.RewritesUnsaved);
    }

    private static SealerCheckpoint Clone(SealerCheckpoint c) => new()
    {
        Parts = [.. c.Parts],
        NextSlice = c.NextSlice,
        OffsetInSlice = c.OffsetInSlice,
        GzipOffset = c.GzipOffset,
        CrcOfWholeSlices = c.CrcOfWholeSlices,
        InputOfWholeSlices = c.InputOfWholeSlices,
        ChainBlock = [.. c.ChainBlock],
    };
}
