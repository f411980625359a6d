using BundleCluster.Abstractions.Jobs;
using BundleCluster.Client;
using BundleCluster.Grains.Hosting;
using BundleCluster.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.TestingHost;

namespace BundleCluster.Cluster.Tests;

/// <summary>Three silos in this process, job state and reminders in a real Redis.</summary>
[Trait("Tier", "Slow")] // Redis and three in-process silos
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
        // Silos of different capacity: the third has twice the compression slots of the others.
        int silosConfigured = 0;
        builder.ConfigureSilo((_, silo) =>
        {
            int slots = Interlocked.Increment(ref silosConfigured) == 3 ? 2 : 1;
            silo.AddBundleClusterGrains(o => o.CompressionSlots = slots).AddBundleClusterRedisStorage(redis);
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        _client = new BundleClusterClient(_cluster.Client);
    }

    [Fact]
    public async Task Chunk_work_fans_out_to_all_three_silos_and_the_silo_with_more_slots_compresses_more()
    {
        string image = ClusterJobs.BusyImage(_dir.File("fan.img"), 40_000_000, seed: 31);

        string jobId = await _client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub("bundle")));
        BundleJobStatus done = await _client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(3));

        // Slices go to silos with a free slot, so shares follow the compression each silo actually gets done: here
        // three silos share this machine's cores, and the one with two compression threads does about half.
        Assert.Equal(3, done.Silos.Count);
        string twoSlots = _cluster.Silos
            .Single(s => s.SiloHost.Services.GetRequiredService<IOptions<BundleClusterOptions>>().Value.CompressionSlots == 2)
            .SiloAddress.ToString();
        long big = done.Silos[twoSlots];
        Assert.All(done.Silos.Values, share => Assert.True(share >= 0.10 * done.TarBytes, $"a share of {share} of {done.TarBytes} bytes"));
        Assert.All(done.Silos.Where(kv => kv.Key != twoSlots), small => Assert.True(big > small.Value,
            $"the two-slot silo compressed {big} bytes, a one-slot silo {small.Value}"));
        await ClusterJobs.AssertRestoresAsync(_dir.Path, done, image);
    }

    [Fact]
    public async Task Submitting_twice_with_one_idempotency_key_runs_one_job()
    {
        string image = ClusterJobs.BusyImage(_dir.File("idem.img"), 5_000_000, seed: 33);
        BundleJobSpec spec = ClusterJobs.Spec(_dir.Path, image, _dir.Sub("bundle"));

        string first = await _client.SubmitAsync(spec, "nightly-42");
        string second = await _client.SubmitAsync(spec, "nightly-42");
        BundleJobStatus done = await _client.WaitAsync(first).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(first, second);
        await ClusterJobs.AssertRestoresAsync(_dir.Path, done, image);
    }

    [Fact]
    public async Task A_cancelled_job_leaves_no_manifest_and_no_parts()
    {
        string image = ClusterJobs.BusyImage(_dir.File("cancel.img"), 80_000_000, seed: 34);
        string dest = _dir.Sub("bundle");
        string jobId = await _client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, dest, level: 9));
        await ClusterJobs.WaitForProgressAsync(_client, jobId, 0.05);

        BundleJobStatus cancelled = await _client.CancelAsync(jobId, "test");

        Assert.Equal(BundleJobState.Cancelled, cancelled.State);
        Assert.Empty(Directory.GetFileSystemEntries(dest));
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
