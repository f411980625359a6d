namespace BundleCluster.Grains.Hosting;

/// <summary>Tuning of the grain pipeline on a silo.</summary>
public sealed class BundleClusterOptions
{
    /// <summary>Compressions running at once on this silo; default one per core.</summary>
    public int CompressionSlots { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// Slices a sealer keeps in flight ahead of the one it is sealing. Memory on the cluster is about
    /// this × (slice size + its compressed size); default 3 per core of the sealer's silo, at least 4.
    /// </summary>
    public int SlicesInFlight { get; set; } = Math.Max(4, 3 * Environment.ProcessorCount);

    /// <summary>How many times a slice is recompressed after its chunk grain failed or was lost.</summary>
    public int SliceAttempts { get; set; } = 4;

    /// <summary>Storage provider name for job state.</summary>
    public const string JobStorage = "bundlejobs";
}
