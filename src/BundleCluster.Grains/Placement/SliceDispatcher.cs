using BundleCluster.Grains.Pipeline;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace BundleCluster.Grains.Placement;

/// <summary>
/// Gives a job's slices to the silos that have a compression slot free, so chunk work follows the capacity each silo
/// actually has: a silo that also runs the job's digest and sealer, a slower node or a noisy neighbour finishes its
/// slices later, gets its next ones later, and so compresses fewer; a silo that joins mid-job gets slices at once.
/// This is work pulling with the sealer as the queue: a silo holds at most its slots plus <see cref="QueuedPerSilo"/>
/// slices of the job, and each finished slice frees the place for the next. One instance per sealer run, used only
/// on the sealer's turn (not thread-safe).
/// </summary>
internal sealed class SliceDispatcher(IClusterMembershipService membership, ISiloMetadataCache metadata)
{
    /// <summary>
    /// Slices a silo may hold beyond its slots: one waiting behind them, so that a slot that frees starts on it at
    /// once instead of idling for the round trip to the sealer and back.
    /// </summary>
    public const int QueuedPerSilo = 1;

    private readonly Dictionary<SiloAddress, int> _inFlight = [];
    private readonly Pulse _placeFreed = new();

    /// <summary>Completes when the next slice finishes (its silo has room again).</summary>
    public Task PlaceFreed => _placeFreed.Next;

    /// <summary>
    /// The silo for the next slice: of the active silos with room, the one with the fewest slices in flight per
    /// slot (ties to the lowest address); null when every silo is full.
    /// </summary>
    public SiloAddress? NextSilo()
    {
        SiloAddress? best = null;
        double bestLoad = double.MaxValue;
        foreach (SiloAddress silo in ActiveSilos())
        {
            int slots = SiloCapacity.Slots(metadata, silo);
            int inFlight = _inFlight.GetValueOrDefault(silo);
            double load = inFlight / (double)slots;
            if (inFlight < slots + QueuedPerSilo && (load < bestLoad || (load == bestLoad && best is not null && silo.CompareTo(best) < 0)))
            {
                (best, bestLoad) = (silo, load);
            }
        }

        return best;
    }

    /// <summary>Slices the cluster can hold at once (slots plus queue places over the active silos).</summary>
    public int ClusterPlaces() => ActiveSilos().Sum(silo => SiloCapacity.Slots(metadata, silo) + QueuedPerSilo);

    /// <summary>
    /// Runs one slice's compression on <paramref name="silo"/> (a placement hint: a chunk grain not yet active is
    /// placed there; with no silo, <see cref="SpreadPlacementDirector"/> decides), counting it against that silo's
    /// room until it finishes, however it ends.
    /// </summary>
    public async Task<T> RunOnAsync<T>(SiloAddress? silo, Func<Task<T>> compress)
    {
        if (silo is null)
        {
            return await compress();
        }

        _inFlight[silo] = _inFlight.GetValueOrDefault(silo) + 1;
        // Request context is async-local: set inside this async method, it goes with this call only.
        RequestContext.Set(IPlacementDirector.PlacementHintKey, silo);
        try
        {
            return await compress();
        }
        finally
        {
            _inFlight[silo]--;
            _placeFreed.Fire();
        }
    }

    private IEnumerable<SiloAddress> ActiveSilos() => SiloCapacity.ActiveSilos(membership);
}
