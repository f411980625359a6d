using BundleCluster.Abstractions.Jobs;

namespace BundleCluster.Grains.Hosting;

/// <summary>Tuning of the grain pipeline on a silo.</summary>
public sealed class BundleClusterOptions
{
    /// <summary>
    /// Compressions running at once on this silo (its compression threads); default one per core. Published to the
    /// cluster: a sealer gives this silo at most this many slices of a job, plus one queued.
    /// </summary>
    public int CompressionSlots { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// The smallest window a sealer on this silo keeps: slices handed out and not yet sealed. Slices finish out of order
    /// and are sealed in order, so the window lets fast silos run ahead of a slow slice at the head; it grows to 4 × the
    /// cluster's places (slots plus one per silo) on a larger cluster. Memory on the cluster is about the window × the
    /// compressed slice size; default 4 per core of the sealer's silo, at least 8.
    /// </summary>
    public int SlicesInFlight { get; set; } = Math.Max(8, 4 * Environment.ProcessorCount);

    /// <summary>
    /// Directories images must lie under and bundles may be written to. Empty means no restriction — right for the embedded silo, which reads what
    /// its own user can; a clustered silo refuses to start without at least one, so clients cannot make it read
    /// arbitrary files.
    /// </summary>
    public List<string> AllowedRoots { get; set; } = [];

    /// <summary>
    /// Further directories key and certificate files may lie in (mounted secrets), besides the allowed roots.
    /// Only checked when allowed roots are configured.
    /// </summary>
    public List<string> KeyRoots { get; set; } = [];

    /// <summary>
    /// True when job state outlives this process (Redis storage: a job resumes on another silo). False for the embedded
    /// silo, whose jobs end with it: their staging is then reclaimable by later runs once the process is gone, and they
    /// register no watchdog reminder (the silo has no reminder service).
    /// </summary>
    public bool JobsOutliveProcess { get; set; } = true;

    /// <summary>
    /// s3://bucket/prefix locations images may be read from and bundles written to. A confined silo (one with allowed
    /// roots) refuses every other S3 location; an unconfined one (embedded) allows all.
    /// </summary>
    public List<string> AllowedS3Prefixes { get; set; } = [];

    /// <summary>
    /// The directory of named signing identities (<c>NAME/cert.pem</c>, <c>NAME/pk.pem</c>, <c>NAME/cloud-cert.pem</c>),
    /// mounted secrets in Kubernetes; a job naming an identity reads its keys from here. Null: jobs cannot name one.
    /// </summary>
    public string? IdentityRoot { get; set; }

    /// <summary>
    /// How this cluster reaches S3 for jobs that bring no S3 settings (bundle-api's jobs never do): the cluster's
    /// S3-compatible store in docker-compose or Kubernetes. Null: the AWS SDK's defaults.
    /// </summary>
    public S3Options? DefaultS3 { get; set; }

    /// <summary>Where key and certificate files may lie: the key roots, the identity root and the allowed roots (none when unconfined).</summary>
    public IReadOnlyCollection<string> KeyFileRoots() =>
        AllowedRoots.Count == 0 ? [] : [.. KeyRoots, .. IdentityRoot is null ? Array.Empty<string>() : [IdentityRoot], .. AllowedRoots];

    /// <summary>Where images and bundles may be: the allowed roots and S3 prefixes (unconfined without allowed roots).</summary>
    public Storage.Confinement Confinement() =>
        AllowedRoots.Count == 0 ? Storage.Confinement.None : new Storage.Confinement(AllowedRoots, AllowedS3Prefixes);

    /// <summary>How long one call to a chunk grain may take before the sealer asks again (a slice compresses in well under a second).</summary>
    public TimeSpan ChunkCallTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a slice keeps being retried after its chunk grain or that grain's silo failed.</summary>
    public TimeSpan SliceRetryWindow { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often a running job checks that its digest and sealer are alive (and restarts them if not).</summary>
    public TimeSpan WatchdogInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Jobs running at once in the whole cluster; the rest wait, Queued (<see cref="Jobs.JobQueueGrain"/>). 0 (the
    /// default) means one per compression slot of the active silos. The queue grain applies the setting of the silo it
    /// lives on, so give every silo the same.
    /// </summary>
    public int MaxRunningJobs { get; set; }

    /// <summary>How often the job queue checks that its running jobs still run (to take back places of lost ones).</summary>
    public TimeSpan QueueCheckInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Storage provider name for job state.</summary>
    public const string JobStorage = "bundlejobs";
}
