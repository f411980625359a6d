using BundleCluster.Grains.Hosting;
using Orleans.TestingHost;

namespace BundleCluster.Grains.Tests;

/// <summary>Two real silos in this process, so grain calls cross silo boundaries and are serialized.</summary>
public sealed class TwoSiloClusterFixture : IAsyncLifetime
{
    public InProcessTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) => silo
            .AddBundleClusterGrains(o => o.CompressionSlots = 2)
            .AddBundleClusterInMemoryStorage());
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
