using System.CommandLine;
using BundleCluster.Client;

namespace BundleCluster.Cli.Commands;

/// <summary>--cluster / --cluster-id / --service-id, shared by every command that talks to a clustered deployment.</summary>
internal static class ClusterOptions
{
    public static Option<string> Cluster(bool required) => new("--cluster")
    {
        Description = "Redis HOST:PORT of the cluster to use" + (required ? " (default: $BUNDLECLUSTER_REDIS)" : "; without it, an embedded silo runs in this process"),
    };

    public static readonly Option<string> ClusterId = new("--cluster-id")
    {
        Description = "The cluster's id, as its silos were started with (default: bundlecluster)",
        DefaultValueFactory = _ => "bundlecluster",
    };

    /// <summary>A separate setting: silos started with another --service-id are otherwise unreachable.</summary>
    public static readonly Option<string> ServiceId = new("--service-id")
    {
        Description = "The cluster's service id, as its silos were started with (default: bundlecluster)",
        DefaultValueFactory = _ => "bundlecluster",
    };

    /// <summary>Connects to the cluster named by --cluster (or $BUNDLECLUSTER_REDIS), with a clear error when none is named.</summary>
    public static Task<ConnectedBundleCluster> ConnectAsync(ParseResult parsed, Option<string> cluster, CancellationToken ct)
    {
        string redis = CliOptions.Require(parsed, cluster, "BUNDLECLUSTER_REDIS");
        return BundleClusterConnection.ConnectAsync(new BundleClusterConnectionOptions
        {
            Redis = redis,
            ClusterId = parsed.GetValue(ClusterId)!,
            ServiceId = parsed.GetValue(ServiceId)!,
        }, ct);
    }
}
