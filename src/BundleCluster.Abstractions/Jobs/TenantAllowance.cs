namespace BundleCluster.Abstractions.Jobs;

/// <summary>
/// Where a tenant's jobs may read images and write bundles: directory roots and <c>s3://bucket/prefix</c> prefixes,
/// as bundle-api's tenants file lists them. The silos check it (links resolved, files as opened) on top of their own.
/// </summary>
[GenerateSerializer, Immutable, Alias("bc.TenantAllowance")]
public sealed record TenantAllowance([property: Id(0)] IReadOnlyList<string> Images, [property: Id(1)] IReadOnlyList<string> Destinations);
