namespace BundleCluster.Silo;

/// <summary>
/// bundle-silo's settings: flags (--redis, --silo-port, …), appsettings.json section "BundleSilo", or environment
/// variables BUNDLESILO_REDIS, BUNDLESILO_SILOPORT, … (later sources win: file, environment, flags).
/// </summary>
public sealed class SiloHostOptions
{
    public const string Section = "BundleSilo";

    /// <summary>Redis HOST:PORT (or a StackExchange.Redis configuration string): membership, job state, reminders.</summary>
    public string? Redis { get; set; }

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    /// <summary>HTTP port of /health/live and /health/ready, on the advertised address.</summary>
    public int HttpPort { get; set; } = 8080;

    /// <summary>The address other silos and clients reach this one at (a pod IP in Kubernetes); also the address bound.</summary>
    public string Advertise { get; set; } = "127.0.0.1";

    public string ClusterId { get; set; } = "bundlecluster";

    public string ServiceId { get; set; } = "bundlecluster";

    /// <summary>Directories images must lie under and bundles may be written to; at least one is required.</summary>
    public List<string> AllowedRoots { get; set; } = [];

    /// <summary>Directories holding key and certificate files (mounted secrets), besides the allowed roots.</summary>
    public List<string> KeyRoots { get; set; } = [];

    /// <summary>s3://bucket/prefix locations jobs may read images from and write bundles to (none: no S3).</summary>
    public List<string> AllowedS3 { get; set; } = [];

    /// <summary>Run the Orleans Dashboard's silo side, for bundle-api --dashboard (off by default: it profiles every grain call).</summary>
    public bool Dashboard { get; set; }

    /// <summary>Directory of named signing identities (NAME/cert.pem, NAME/pk.pem, NAME/cloud-cert.pem).</summary>
    public string? IdentityRoot { get; set; }

    /// <summary>Compressions at once on this silo (default: one per core).</summary>
    public int? CompressionSlots { get; set; }

    /// <summary>Slices a sealer on this silo keeps in flight (default: 4 per core, at least 8).</summary>
    public int? SlicesInFlight { get; set; }

    /// <summary>Jobs running at once in the cluster, the rest queued (default: one per compression slot of the active silos).</summary>
    public int? MaxRunningJobs { get; set; }

    /// <summary>
    /// How long a graceful stop (SIGTERM) may take: sealers hand over, activations leave (default 30 s, .NET's own).
    /// A pod's <c>terminationGracePeriodSeconds</c> must be longer.
    /// </summary>
    public int ShutdownTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// The S3-compatible endpoint for jobs that name no S3 settings of their own (bundle-api's jobs): the cluster's
    /// store. Null: AWS S3 in the region the SDK finds.
    /// </summary>
    public string? S3EndpointUrl { get; set; }

    public string? S3Region { get; set; }

    /// <summary>The canned ACL for those jobs' parts and manifest ("none" for buckets with ACLs disabled).</summary>
    public string S3Acl { get; set; } = "aws-exec-read";

    /// <summary>Plain bodies with Content-MD5 for stores that do not understand the SDK's streaming checksums.</summary>
    public bool S3Compat { get; set; }

    /// <summary>The S3 settings for jobs that bring none, when any --s3-* flag is given.</summary>
    public BundleCluster.Abstractions.Jobs.S3Options? DefaultS3() =>
        S3EndpointUrl is null && S3Region is null && S3Acl == "aws-exec-read" && !S3Compat
            ? null
            : new BundleCluster.Abstractions.Jobs.S3Options(S3EndpointUrl, S3Region, S3Acl, S3Compat);
}
