namespace BundleCluster.Abstractions.Jobs;

/// <summary>
/// A tenant's limits, as the tenants file of bundle-api gives them and the job queue enforces them. 0 = no limit.
/// </summary>
[GenerateSerializer, Immutable, Alias("bc.TenantQuota")]
public sealed record TenantQuota([property: Id(0)] int MaxRunningJobs, [property: Id(1)] int MaxQueuedJobs);
