using System.Globalization;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace BundleCluster.Grains.Placement;

/// <summary>
/// A silo's compression slots as the rest of the cluster sees them: published by each silo as silo metadata at
/// start (<see cref="Hosting.SiloBuilderExtensions.AddBundleClusterGrains"/>), read by placement and dispatch.
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
}
