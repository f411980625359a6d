namespace BundleCluster.Abstractions.Jobs;

/// <summary>
/// How the silos reach an s3:// destination: endpoint (S3-compatible stores, path-style), region, canned ACL
/// ("none" for buckets with ACLs disabled) and the plain-bodies compatibility switch. Credentials never travel:
/// each silo uses the AWS SDK's default credential chain.
/// </summary>
[GenerateSerializer, Immutable, Alias("bc.S3Options")]
public sealed record S3Options(
    [property: Id(0)] string? EndpointUrl,
    [property: Id(1)] string? Region,
    [property: Id(2)] string Acl,
    [property: Id(3)] bool PlainBodies);
