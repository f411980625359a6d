using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace BundleCluster.Grains.Placement;

/// <summary>
/// Places each new activation on a compatible silo in proportion to the silo's compression capacity (its
/// <see cref="CapacityKey"/> metadata: compression slots, one per core by default), so a job's chunk work lands on
/// every silo — not only on the caller's, as [StatelessWorker] would, nor wherever chance puts it.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("bc.SpreadPlacement")]
public sealed class SpreadPlacement : PlacementStrategy
{
    internal static readonly SpreadPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SpreadPlacementAttribute() : PlacementAttribute(SpreadPlacement.Instance);

/// <summary>
/// Honours a placement hint (how <see cref="SliceDispatcher"/> sends a slice to the silo with a free slot); without
/// one, weighted round robin: each placement goes to the silo with the fewest placements per unit of capacity so far
/// (ties broken by address), so each silo's share tracks its capacity and a silo that joins starts receiving work at
/// once.
/// </summary>
internal sealed class SpreadPlacementDirector(ISiloMetadataCache metadata) : IPlacementDirector
{
    private readonly Dictionary<SiloAddress, long> _placed = [];

    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        SiloAddress[] silos = context.GetCompatibleSilos(target);
        if (IPlacementDirector.GetPlacementHint(target.RequestContextData, silos) is { } hinted)
        {
            return Task.FromResult(hinted); // a silo that left since the hint was given is not compatible: no hint then
        }

        lock (_placed)
        {
            SiloAddress best = silos[0];
            double bestLoad = double.MaxValue;
            foreach (SiloAddress silo in silos.OrderBy(s => s.ToString(), StringComparer.Ordinal))
            {
                double load = (_placed.GetValueOrDefault(silo) + 1) / (double)SiloCapacity.Slots(metadata, silo);
                if (load < bestLoad)
                {
                    (best, bestLoad) = (silo, load);
                }
            }

            _placed[best] = _placed.GetValueOrDefault(best) + 1;
            return Task.FromResult(best);
        }
    }
}
