using System.CommandLine;
using BundleCluster.Client;
using BundleCluster.Client.Service;
using BundleCluster.Format.Errors;

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

/// <summary>--service URL and --token: bundle-api instead of the Orleans gateway.</summary>
internal static class ServiceOptions
{
    public static readonly Option<string> Service = new("--service")
    {
        Description = "bundle-api's URL, to go through the service instead of the cluster's gateway (default: $BUNDLECLUSTER_SERVICE)",
    };

    public static readonly Option<string> Token = new("--token")
    {
        Description = "Bearer token for --service (default: $BUNDLECLUSTER_TOKEN; prefer the variable: a flag shows in ps)",
    };

    public static readonly Option<string> TokenFile = new("--token-file")
    {
        Description = "A file holding the bearer token, read for every request (a projected service-account token rotates; default: $BUNDLECLUSTER_TOKEN_FILE)",
    };

    public static void AddTo(Command command)
    {
        command.Options.Add(Service);
        command.Options.Add(Token);
        command.Options.Add(TokenFile);
    }

    /// <summary>The service URL when the command goes through bundle-api; null for the cluster's gateway.</summary>
    public static Uri? Url(ParseResult parsed, Option<string> cluster)
    {
        string? service = CliOptions.Optional(parsed, Service, "BUNDLECLUSTER_SERVICE");
        if (service is null)
        {
            return null;
        }

        if (parsed.GetValue(cluster) is { Length: > 0 })
        {
            throw BundleException.InvalidParameter("give --cluster or --service, not both");
        }

        return Uri.TryCreate(service, UriKind.Absolute, out Uri? url) && url.Scheme is "http" or "https"
            ? url
            : throw BundleException.InvalidParameter($"--service '{service}' is not an http(s) URL");
    }

    public static BundleServiceClient Connect(ParseResult parsed, Uri url) => BundleServiceClient.Create(new BundleServiceOptions
    {
        Url = url,
        Token = CliOptions.Optional(parsed, Token, "BUNDLECLUSTER_TOKEN"),
        TokenFile = CliOptions.Optional(parsed, TokenFile, "BUNDLECLUSTER_TOKEN_FILE"),
    });
}
