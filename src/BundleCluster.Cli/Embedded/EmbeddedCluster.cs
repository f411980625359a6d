using System.Net;
using System.Net.Sockets;
using BundleCluster.Grains.Hosting;
using BundleCluster.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BundleCluster.Cli.Embedded;

/// <summary>
/// The embedded default: one silo in this process, clustered on loopback with ports of its own (so several bundlectl
/// runs do not collide), job state in memory, every core used for compression. Nothing else to install.
/// </summary>
internal sealed class EmbeddedCluster : IAsyncDisposable
{
    private readonly IHost _host;

    private EmbeddedCluster(IHost host) => _host = host;

    public IGrainFactory Grains => _host.Services.GetRequiredService<IGrainFactory>();

    public static async Task<EmbeddedCluster> StartAsync(bool verbose, CancellationToken ct)
    {
        // The content root is the program's folder, not the current directory (which need not exist or be readable).
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        if (verbose)
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information);
        }

        // The host must not take Ctrl+C/SIGTERM for itself (its console lifetime would swallow them and stop the silo
        // under a running job): bundlectl's InterruptSignals cancels the job and then disposes this host.
        builder.Services.AddSingleton<IHostLifetime, CommandHostLifetime>();
        builder.AddBundleClusterTelemetry("bundlectl"); // exports only when OTEL_EXPORTER_OTLP_ENDPOINT is set
        builder.UseOrleans(silo => silo
            .UseLocalhostClustering(FreePort(), FreePort(), serviceId: "bundlecluster-embedded", clusterId: $"embedded-{Environment.ProcessId}")
            .AddBundleClusterGrains()
            .AddBundleClusterInMemoryStorage());
        IHost host = builder.Build();
        await host.StartAsync(ct);
        return new EmbeddedCluster(host);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _host.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // shutting down anyway
        }

        _host.Dispose();
    }

    /// <summary>A lifetime that listens to no signal: the command owns start and stop.</summary>
    private sealed class CommandHostLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
