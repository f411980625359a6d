using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Pipeline;

namespace BundleCluster.Grains.Jobs;

/// <summary>
/// A job's persisted state: the spec, the plan, the key in wrapped form only (to the user and cloud certificates),
/// what the digest and the sealer produced, and the status shown to clients.
/// </summary>
[GenerateSerializer, Alias("bc.BundleJobRecord")]
public sealed class BundleJobRecord
{
    [Id(0)] public BundleJobSpec? Spec { get; set; }

    [Id(1)] public ImageSlicePlan? Plan { get; set; }

    [Id(2)] public string? Ec2EncryptedKey { get; set; }

    [Id(3)] public string? UserEncryptedKey { get; set; }

    [Id(4)] public string? Ec2EncryptedIv { get; set; }

    [Id(5)] public string? UserEncryptedIv { get; set; }

    [Id(6)] public string? TarDigest { get; set; }

    [Id(7)] public SealOutcome? Sealed { get; set; }

    [Id(8)] public BundleJobStatus? Status { get; set; }

    /// <summary>The CRC-32 of the tar stream the digest read; the sealed slices must combine to the same.</summary>
    [Id(9)] public uint? TarCrc32 { get; set; }

    /// <summary>device:inode:length:mtime of the private key file validated at preparation; the commit signs only with it.</summary>
    [Id(10)] public string? PrivateKeyVersion { get; set; }

    /// <summary>W3C traceparent of the job's root span (<c>bundle.job</c>); null when the job was not traced.</summary>
    [Id(11)] public string? TraceParent { get; set; }

    /// <summary>W3C traceparent of the caller that submitted the job, if it had one: the root span's parent.</summary>
    [Id(12)] public string? CallerTraceParent { get; set; }
}
