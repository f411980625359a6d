using BundleCluster.Abstractions.Jobs;
using BundleCluster.Client;
using BundleCluster.Grains.Hosting;
using BundleCluster.Grains.Pipeline;
using BundleCluster.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace BundleCluster.Grains.Tests;

/// <summary>
/// Chunk work follows the capacity a silo actually has free, not the capacity it advertises: two silos with one
/// compression slot each, one of them busy with other work on its compression thread (a noisy neighbour: another
/// job, another tenant). Placement by advertised slots would split the slices evenly.
/// </summary>
public sealed class SliceDispatchTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("dispatch");
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) => silo
            .AddBundleClusterGrains(o => o.CompressionSlots = 1)
            .AddBundleClusterInMemoryStorage());
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    [Fact]
    public async Task A_silo_whose_compression_slot_is_busy_with_other_work_gets_fewer_slices_and_the_job_completes()
    {
        string image = TestImages.Create(_dir.File("disk.img"), 24_000_000, seed: 41);
        TestIdentity user = TestIdentity.User(_dir.Path);
        TestIdentity cloud = TestIdentity.Cloud(_dir.Path);
        var spec = new BundleJobSpec
        {
            ImagePath = image,
            Destination = _dir.Sub("bundle"),
            User = "1234-5678-9012",
            UserCertificatePath = user.CertificatePath,
            PrivateKeyPath = user.PrivateKeyPath,
            CloudCertificatePath = cloud.CertificatePath,
            SliceSize = 256 * 1024,
        };
        InProcessSiloHandle busy = _cluster.Silos[0];
        CpuWorkLimiter busyThreads = busy.SiloHost.Services.GetRequiredService<CpuWorkLimiter>();
        using var stop = new CancellationTokenSource();
        // The neighbour keeps one item of its own queued on the busy silo's compression thread at all times.
        Task neighbour = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await busyThreads.RunAsync(() =>
                {
                    Thread.Sleep(30);
                    return 0;
                });
            }
        });

        var client = new BundleClusterClient(_cluster.Client);
        BundleJobStatus done = await client.WaitAsync(await client.SubmitAsync(spec)).WaitAsync(TimeSpan.FromMinutes(2));
        await stop.CancelAsync();
        await neighbour;

        Assert.Equal(BundleJobState.Completed, done.State);
        Assert.Equal(done.TarBytes, done.Silos.Values.Sum());
        long busyShare = done.Silos.GetValueOrDefault(busy.SiloAddress.ToString());
        long freeShare = done.TarBytes - busyShare;
        Assert.True(busyShare > 0, "the busy silo still gets work: it is slower, not gone");
        Assert.True(freeShare >= 2 * busyShare, $"the free silo compressed {freeShare} bytes, the busy one {busyShare}");
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _dir.Dispose();
    }
}
