namespace BundleCluster.Grains.Hosting;

/// <summary>Tuning of the grain pipeline on a silo.</summary>
public sealed class BundleClusterOptions
{
    /// <summary>Compressions running at once on this silo; default one per core.</summary>
    public int CompressionSlots { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// Slices a sealer keeps in flight ahead of the one it is sealing. Enough that a slow slice at the head does not
    /// leave cores idle (slices finish out of order; the sealer takes them in order). Memory on the cluster is about
    /// this × the compressed slice size; default 4 per core of the sealer's silo, at least 8.
    /// </summary>
    public int SlicesInFlight { get; set; } = Math.Max(8, 4 * Environment.ProcessorCount);

    /// <summary>How many times a slice is recompressed after its chunk grain failed or was lost.</summary>
    public int SliceAttempts { get; set; } = 4;

    /// <summary>Storage provider name for job state.</summary>
    public const string JobStorage = "bundlejobs";
}
