namespace BundleCluster.Client;

/// <summary>The cluster (its Redis, or every silo) cannot be reached.</summary>
public sealed class ClusterUnreachableException(string message, Exception? inner = null)
    : BundleClusterException(message, Abstractions.Jobs.JobErrorKind.Failed, inner);
