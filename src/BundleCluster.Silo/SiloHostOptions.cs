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
}
