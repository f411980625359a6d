using System.Globalization;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace BundleCluster.Grains.Placement;

/// <summary>
/// A silo's compression slots as the rest of the cluster sees them: published by each silo as silo metadata at
/// start (<see cref="Hosting.SiloBuilderExtensions.AddBundleClusterGrains"/>), read by placement, dispatch and the
/// job queue's default limit.
/// </summary>
internal static class SiloCapacity
{
    /// <summary>Silo metadata key carrying the silo's compression slots.</summary>
    public const string Key = "bundlecluster.compression-slots";

    public static Dictionary<string, string> Metadata(int slots) => new() { [Key] = slots.ToString(CultureInfo.InvariantCulture) };

    /// <summary>The silo's slots; 1 for a silo that published none (an older version) or nonsense.</summary>
    public static int Slots(ISiloMetadataCache metadata, SiloAddress silo) =>
        metadata.GetSiloMetadata(silo).Metadata.TryGetValue(Key, out string? value)
        && int.TryParse(value, CultureInfo.InvariantCulture, out int slots) && slots > 0
            ? slots
            : 1;

    /// <summary>The silos that take work now: Active in the membership (not joining, shutting down or dead).</summary>
    public static IEnumerable<SiloAddress> ActiveSilos(IClusterMembershipService membership) =>
        membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress);

    /// <summary>The compression slots of all active silos: the cluster's capacity for running work at once.</summary>
    public static int ClusterSlots(IClusterMembershipService membership, ISiloMetadataCache metadata) =>
        ActiveSilos(membership).Sum(silo => Slots(metadata, silo));
}
