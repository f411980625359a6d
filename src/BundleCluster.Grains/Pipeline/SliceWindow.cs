using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Grains.Placement;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// The slices a sealer has handed out and not sealed yet, in tar-stream order. <see cref="FillAsync"/> runs beside
/// the sealing: it hands the next slice to a silo the moment one frees a place, instead of between two slices the
/// sealer appends (appending waits for part writes and for bytes from other silos; compression must not wait with
/// it). The window bounds the slices compressed but not sealed — the cluster's memory — and grows with the cluster's
/// places so every slot can stay busy while the slice at the head finishes. Used only on the sealer's turn.
/// </summary>
internal sealed class SliceWindow(SliceDispatcher dispatcher, int firstSlice, int sliceCount, int minimumSize, Func<int, Task<ChunkSummary>> compress)
{
    /// <summary>Slices in flight per place in the cluster: a slow silo's slice at the head stalls nobody for long.</summary>
    public const int SlicesPerPlace = 4;

    private readonly Queue<(int Index, Task<ChunkSummary> Summary)> _slices = new();
    private int _next = firstSlice;
    private readonly Pulse _taken = new();
    private readonly Pulse _handedOut = new();

    /// <summary>Slices handed out and not taken by the sealer: what a failed or stopped sealer must release.</summary>
    public IReadOnlyCollection<(int Index, Task<ChunkSummary> Summary)> Outstanding => _slices;

    /// <summary>Hands out every slice, as places free up and the window has room. Ends when all are handed out.</summary>
    public async Task FillAsync(CancellationToken ct)
    {
        while (_next < sliceCount)
        {
            int size = Math.Max(minimumSize, SlicesPerPlace * dispatcher.ClusterPlaces());
            while (_slices.Count < size && _next < sliceCount)
            {
                SiloAddress? target = dispatcher.NextSilo();
                if (target is null && _slices.Count > 0)
                {
                    break; // every silo is full: the next slice goes to the first that frees a place
                }

                int index = _next++;
                _slices.Enqueue((index, dispatcher.RunOnAsync(target, () => compress(index))));
                _handedOut.Fire();
            }

            if (_next < sliceCount)
            {
                await Task.WhenAny(dispatcher.PlaceFreed, _taken.Next).WaitAsync(ct);
            }
        }
    }

    /// <summary>The next slice in order, once compressed (a failed slice throws, and stays outstanding).</summary>
    public async Task<(int Index, ChunkSummary Summary)> TakeAsync(CancellationToken ct)
    {
        while (_slices.Count == 0)
        {
            await _handedOut.Next.WaitAsync(ct);
        }

        (int index, Task<ChunkSummary> pending) = _slices.Peek();
        ChunkSummary summary = await pending;
        _slices.Dequeue();
        _taken.Fire();
        return (index, summary);
    }
}
