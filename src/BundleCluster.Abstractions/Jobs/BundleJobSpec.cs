namespace BundleCluster.Abstractions.Jobs;

/// <summary>
/// Everything a bundle job needs, by reference: paths the silos read (image, keys) and where the bundle goes.
/// Key material itself never travels in a job message; silos read key files named here.
/// </summary>
[GenerateSerializer, Immutable, Alias("bc.BundleJobSpec")]
public sealed record BundleJobSpec
{
    /// <summary>Default gzip level: gzip's and euca2ools' default; ec2-ami-tools 1.5 uses 9.</summary>
    public const int DefaultCompressionLevel = 6;

    /// <summary>Default slice of the tar stream per chunk work item.</summary>
    public const int DefaultSliceSize = 4 << 20;

    [Id(0)] public required string ImagePath { get; init; }

    /// <summary>A directory the silos can write, or s3://bucket/prefix.</summary>
    [Id(1)] public required string Destination { get; init; }

    /// <summary>Names the tar member, manifest and parts; defaults to the image file's base name.</summary>
    [Id(2)] public string? Prefix { get; init; }

    [Id(3)] public string Architecture { get; init; } = "x86_64";

    /// <summary>The 12-digit AWS account number (hyphens allowed).</summary>
    [Id(4)] public required string User { get; init; }

    [Id(5)] public string? KernelId { get; init; }

    [Id(6)] public string? RamdiskId { get; init; }

    /// <summary>"virtual=device,…" as -B takes it.</summary>
    [Id(7)] public string? BlockDeviceMappings { get; init; }

    /// <summary>Comma-separated product codes.</summary>
    [Id(8)] public string? ProductCodes { get; init; }

    /// <summary>PEM X.509 certificate of the user: the key is wrapped to it.</summary>
    [Id(9)] public required string UserCertificatePath { get; init; }

    /// <summary>PEM RSA private key of the user: signs the manifest.</summary>
    [Id(10)] public required string PrivateKeyPath { get; init; }

    /// <summary>PEM X.509 certificate of the cloud (cert-ec2.pem); the key is wrapped to it too.</summary>
    [Id(11)] public required string CloudCertificatePath { get; init; }

    [Id(12)] public int CompressionLevel { get; init; } = DefaultCompressionLevel;

    [Id(13)] public int SliceSize { get; init; } = DefaultSliceSize;

    /// <summary>Replace a bundle of the same prefix already at the destination.</summary>
    [Id(14)] public bool Overwrite { get; init; }

    /// <summary>For an s3://bucket/prefix destination: how to reach the store.</summary>
    [Id(15)] public S3Options? S3 { get; init; }

    /// <summary>Who the job is for (bundle-api's tenant); null for jobs from inside the cluster's trust boundary.</summary>
    [Id(16)] public string? Tenant { get; init; }

    /// <summary>Among waiting jobs, higher goes first; equal priorities go in submission order.</summary>
    [Id(17)] public int Priority { get; init; }

    /// <summary>The tenant's limits when the job was submitted, enforced by the job queue; null = none.</summary>
    [Id(18)] public TenantQuota? Quota { get; init; }

    /// <summary>
    /// A signing identity by name, instead of the three key paths: the silos read <c>cert.pem</c>, <c>pk.pem</c> and
    /// <c>cloud-cert.pem</c> from <c>IDENTITY-ROOT/NAME/</c> (bundle-silo --identity-root: mounted secrets), so a request
    /// from outside the cluster never carries a key or a key path.
    /// </summary>
    [Id(19)] public string? Identity { get; init; }

    /// <summary>The tenant's own allowance, checked by the silos on top of theirs: directory roots and s3:// prefixes.</summary>
    [Id(20)] public TenantAllowance? Allowance { get; init; }

    /// <summary>Free-form labels to find the job by (bundle-api's <c>label=k=v</c> filter).</summary>
    [Id(21)] public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>
    /// A digest of the request that created the job (bundle-api): the same idempotency key with a different request is
    /// refused instead of answered with the first job.
    /// </summary>
    [Id(22)] public string? RequestFingerprint { get; init; }

    /// <summary>
    /// The manifest of an earlier bundle of ours of the same image (a path, or s3://bucket/prefix/NAME.manifest.xml),
    /// signed by the same identity: slices unchanged since then take their compressed bytes from it instead of being
    /// compressed again. Anything wrong with it means a full build and a warning, never a failed job.
    /// </summary>
    [Id(23)] public string? Baseline { get; init; }

    /// <summary>The series (<c>TENANT/NAME</c>) this job is a run of: told when the job ends.</summary>
    [Id(24)] public string? Series { get; init; }

    /// <summary>A directory destination that does not exist yet is made, if its parent exists (a series' night directory).</summary>
    [Id(25)] public bool CreateDestination { get; init; }
}
