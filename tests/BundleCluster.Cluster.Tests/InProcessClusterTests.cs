using BundleCluster.Abstractions.Jobs;
using BundleCluster.Client;
using BundleCluster.Grains.Hosting;
using BundleCluster.TestSupport;
using Orleans.TestingHost;

namespace BundleCluster.Cluster.Tests;

/// <summary>Three silos in this process, job state and reminders in a real Redis.</summary>
public sealed class InProcessClusterTests : IAsyncLifetime
{
    private readonly RedisServer _redis = new();
    private readonly TempDirectory _dir = new("inproc");
    private InProcessTestCluster _cluster = null!;
    private BundleClusterClient _client = null!;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(3);
        string redis = _redis.Address;
        builder.ConfigureSilo((_, silo) => silo
            .AddBundleClusterGrains(o => o.CompressionSlots = 1)
            .AddBundleClusterRedisStorage(redis));
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        _client = new BundleClusterClient(_cluster.Client);
    }

    [Fact]
    public async Task Chunk_work_fans_out_to_all_three_silos()
    {
        string image = ClusterJobs.BusyImage(_dir.File("fan.img"), 40_000_000, seed: 31);

        string jobId = await _client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub("bundle")));
        BundleJobStatus done = await _client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(3));

        Assert.Equal(3, done.Silos.Count);
        Assert.All(done.Silos.Values, share => Assert.True(share >= done.TarBytes / 6, $"uneven share {share} of {done.TarBytes}"));
        await ClusterJobs.AssertRestoresAsync(_dir.Path, done, image);
    }

    [Fact]
    public async Task A_silo_stopped_mid_job_does_not_stop_the_job()
    {
        string image = ClusterJobs.BusyImage(_dir.File("stop.img"), 120_000_000, seed: 32);
        string jobId = await _client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub("bundle"), level: 9));
        await ClusterJobs.WaitForProgressAsync(_client, jobId, 0.1);

        await _cluster.StopSiloAsync(_cluster.Silos[2]);
        BundleJobStatus done = await _client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(4));

        await ClusterJobs.AssertRestoresAsync(_dir.Path, done, image);
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _redis.Dispose();
        _dir.Dispose();
    }
}
