namespace BundleCluster.Client.Service;

/// <summary>
/// The body of bundle-api's <c>POST /v1/jobs</c> (camelCase JSON). Keys are never part of a request:
/// <see cref="Identity"/> names a signing identity the silos hold.
/// </summary>
public sealed record ServiceJobRequest
{
    /// <summary><c>s3://bucket/key</c>, or an absolute path under one of the tenant's image roots.</summary>
    public string? Image { get; init; }

    /// <summary><c>s3://bucket/prefix</c>, or a directory under one of the tenant's destination roots.</summary>
    public string? Destination { get; init; }

    /// <summary>Names the manifest and parts; defaults to the image's file name.</summary>
    public string? Prefix { get; init; }

    /// <summary><c>x86_64</c> (default) or <c>i386</c>.</summary>
    public string? Arch { get; init; }

    /// <summary>The 12-digit AWS account number the bundle is for.</summary>
    public string? Account { get; init; }

    public string? Kernel { get; init; }

    public string? Ramdisk { get; init; }

    /// <summary>Virtual name to device, as <c>-B ami=sda1,root=/dev/sda1</c> gives them.</summary>
    public Dictionary<string, string>? BlockDeviceMappings { get; init; }

    public List<string>? ProductCodes { get; init; }

    /// <summary>gzip level 1-9 (default 6).</summary>
    public int? Level { get; init; }

    /// <summary>Replace a bundle of the same prefix at the destination.</summary>
    public bool? Overwrite { get; init; }

    /// <summary>
    /// The manifest of an earlier bundle of the same image signed by the same identity (a path or s3:// URI under the
    /// tenant's images or destinations): unchanged slices are taken from it instead of compressed. If it cannot be
    /// used, the job is built in full and its status carries a warning.
    /// </summary>
    public string? Baseline { get; init; }

    /// <summary>The name of a signing identity the tenant may use.</summary>
    public string? Identity { get; init; }

    /// <summary>Labels to find the job by (at most 32; keys 1-63 of a-z 0-9 . _ / -, values up to 256 characters).</summary>
    public Dictionary<string, string>? Labels { get; init; }

    /// <summary>Among the tenant's waiting jobs and others', higher runs first (-100 to 100, default 0).</summary>
    public int? Priority { get; init; }
}
