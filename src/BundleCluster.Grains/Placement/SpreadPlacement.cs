using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace BundleCluster.Grains.Placement;

/// <summary>
/// Places each new activation on the next compatible silo in turn, so a job's chunk work lands on every silo rather
/// than on the caller's (which is what [StatelessWorker] would do) or wherever chance puts it.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("bc.SpreadPlacement")]
public sealed class SpreadPlacement : PlacementStrategy
{
    internal static readonly SpreadPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SpreadPlacementAttribute() : PlacementAttribute(SpreadPlacement.Instance);

internal sealed class SpreadPlacementDirector : IPlacementDirector
{
    private int _next = -1;

    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        SiloAddress[] silos = context.GetCompatibleSilos(target);
        Array.Sort(silos, (a, b) => string.CompareOrdinal(a.ToString(), b.ToString()));
        int turn = Interlocked.Increment(ref _next) & int.MaxValue;
        return Task.FromResult(silos[turn % silos.Length]);
    }
}
