namespace BundleCluster.Abstractions.Jobs;

/// <summary>A job in a tenant's list: its place in submission order (the page token of bundle-api's listing) and id.</summary>
[GenerateSerializer, Immutable, Alias("bc.TenantJob")]
public sealed record TenantJob([property: Id(0)] long Sequence, [property: Id(1)] string JobId);

/// <summary>
/// The jobs of one tenant (key: the tenant's name), in submission order, so that a tenant's listing never reads
/// another tenant's jobs. Bounded: the oldest are forgotten beyond <c>Keep</c>.
/// </summary>
[Alias("bc.ITenantJobsGrain")]
public interface ITenantJobsGrain : IGrainWithStringKey
{
    [Alias("Add")]
    Task AddAsync(string jobId);

    /// <summary>Up to <paramref name="max"/> jobs, newest first, submitted before the one numbered <paramref name="before"/> (null: from the newest).</summary>
    [Alias("Page")]
    Task<IReadOnlyList<TenantJob>> PageAsync(long? before, int max);
}
