using BundleCluster.Grains.Pipeline;
using BundleCluster.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BundleCluster.Grains.Hosting;

/// <summary>Registers the bundle pipeline's grains and services on a silo.</summary>
public static class SiloBuilderExtensions
{
    public static ISiloBuilder AddBundleClusterGrains(this ISiloBuilder silo, Action<BundleClusterOptions>? configure = null)
    {
        silo.Services.AddOptions<BundleClusterOptions>().Configure(o => configure?.Invoke(o));
        silo.Services.AddSingleton(sp => new CpuWorkLimiter(sp.GetRequiredService<IOptions<BundleClusterOptions>>().Value.CompressionSlots));
        silo.AddPlacementDirector<SpreadPlacement, SpreadPlacementDirector>();
        return silo;
    }

    /// <summary>The embedded default: job state in memory (a single process has nothing to survive).</summary>
    public static ISiloBuilder AddBundleClusterInMemoryStorage(this ISiloBuilder silo) =>
        silo.AddMemoryGrainStorage(BundleClusterOptions.JobStorage);
}
