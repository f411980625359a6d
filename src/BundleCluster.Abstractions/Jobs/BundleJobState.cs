namespace BundleCluster.Abstractions.Jobs;

/// <summary>Where a job is in its life.</summary>
[GenerateSerializer, Alias("bc.BundleJobState")]
public enum BundleJobState
{
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}
