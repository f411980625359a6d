using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace BundleCluster.Client;

/// <summary>Where a clustered deployment is: its Redis and its cluster/service ids (as the silos were started).</summary>
public sealed class BundleClusterConnectionOptions
{
    /// <summary>Redis HOST:PORT, or a StackExchange.Redis configuration string.</summary>
    public string Redis { get; set; } = "127.0.0.1:6379";

    public string ClusterId { get; set; } = "bundlecluster";

    public string ServiceId { get; set; } = "bundlecluster";
}

/// <summary>Ways to reach a cluster: a static connect for tools and scripts, and DI registration for services.</summary>
public static class BundleClusterConnection
{
    /// <summary>Connects to the cluster whose silos cluster through <paramref name="options"/>' Redis.</summary>
    /// <exception cref="ClusterUnreachableException">Redis or every silo is unreachable.</exception>
    public static async Task<ConnectedBundleCluster> ConnectAsync(BundleClusterConnectionOptions options, CancellationToken ct = default)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory, // not the current directory, which need not exist
        });
        builder.Logging.ClearProviders();
        builder.AddBundleClusterClient(options);
        IHost host = builder.Build();
        try
        {
            await host.StartAsync(ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            host.Dispose();
            throw new ClusterUnreachableException($"cannot reach the cluster through Redis at {options.Redis}: {ex.Message}", ex);
        }

        return new ConnectedBundleCluster(host);
    }

    /// <summary>
    /// Registers an Orleans client for the cluster and <see cref="BundleClusterClient"/> in DI
    /// (<c>builder.AddBundleClusterClient(o => o.Redis = "redis:6379")</c>).
    /// </summary>
    public static IHostApplicationBuilder AddBundleClusterClient(this IHostApplicationBuilder builder, Action<BundleClusterConnectionOptions> configure)
    {
        var options = new BundleClusterConnectionOptions();
        configure(options);
        return builder.AddBundleClusterClient(options);
    }

    private static IHostApplicationBuilder AddBundleClusterClient(this IHostApplicationBuilder builder, BundleClusterConnectionOptions options)
    {
        builder.UseOrleansClient(client => client
            .UseRedisClustering(o =>
            {
                o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(options.Redis);
                o.ConfigurationOptions.ConnectTimeout = 5000;
                o.ConfigurationOptions.AbortOnConnectFail = true;
            })
            .Configure<ClusterOptions>(o =>
            {
                o.ClusterId = options.ClusterId;
                o.ServiceId = options.ServiceId;
            })
            .UseConnectionRetryFilter((_, _) => Task.FromResult(false))); // fail fast: a clear error beats a hang
        builder.Services.AddSingleton(sp => new BundleClusterClient(sp.GetRequiredService<IClusterClient>()));
        return builder;
    }
}

/// <summary>A live connection; dispose to disconnect.</summary>
public sealed class ConnectedBundleCluster : IAsyncDisposable
{
    private readonly IHost _host;

    internal ConnectedBundleCluster(IHost host)
    {
        _host = host;
        Client = host.Services.GetRequiredService<BundleClusterClient>();
    }

    public BundleClusterClient Client { get; }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(5));
        }
        finally
        {
            _host.Dispose();
        }
    }
}
