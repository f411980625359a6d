namespace BundleCluster.Abstractions.Jobs;

/// <summary>The list of jobs submitted to the cluster (one grain, key 0), newest first, for "bundlectl jobs".</summary>
[Alias("bc.IJobRegistryGrain")]
public interface IJobRegistryGrain : IGrainWithIntegerKey
{
    [Alias("Register")]
    Task RegisterAsync(string jobId);

    [Alias("List")]
    Task<IReadOnlyList<string>> ListAsync(int max);
}
