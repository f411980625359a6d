using BundleCluster.Abstractions.Jobs;
using BundleCluster.Client;
using BundleCluster.Grains.Hosting;
using BundleCluster.Grains.Pipeline;
using BundleCluster.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace BundleCluster.Grains.Tests;

/// <summary>Two silos that may run two jobs at once between them; the rest wait in the job queue.</summary>
public sealed class TwoRunningJobsClusterFixture : IAsyncLifetime
{
    public const int MaxRunningJobs = 2;

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) => silo
            .AddBundleClusterGrains(o => (o.CompressionSlots, o.MaxRunningJobs) = (1, MaxRunningJobs))
            .AddBundleClusterInMemoryStorage());
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// Holds every silo's only compression slot (fault injection: a cluster busy with other work) until disposed, so
/// admitted jobs stay Running for as long as the test looks at the jobs waiting behind them.
/// </summary>
internal sealed class CompressionStall : IAsyncDisposable
{
    private readonly ManualResetEventSlim _gate = new();
    private readonly Task[] _holders;

    public CompressionStall(InProcessTestCluster cluster)
        : this(cluster.Silos)
    {
    }

    public CompressionStall(IEnumerable<InProcessSiloHandle> silos) =>
        _holders = [.. silos.Select(silo => silo.SiloHost.Services.GetRequiredService<CpuWorkLimiter>().RunAsync(() =>
        {
            _gate.Wait();
            return 0;
        }))];

    public async ValueTask DisposeAsync()
    {
        _gate.Set();
        await Task.WhenAll(_holders);
        _gate.Dispose();
    }
}

/// <summary>Admission control: the cluster's and each tenant's limits, priority order, cancelling while queued.</summary>
public sealed class JobQueueTests(TwoRunningJobsClusterFixture fixture) : IClassFixture<TwoRunningJobsClusterFixture>, IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);
    private readonly TempDirectory _dir = new("queue");
    private readonly BundleClusterClient _client = new(fixture.Cluster.Client, TimeSpan.FromMilliseconds(50));

    private BundleJobSpec Spec(string name, string? tenant = null, int priority = 0, TenantQuota? quota = null) =>
        SmallJob(_dir, name) with { Tenant = tenant, Priority = priority, Quota = quota };

    /// <summary>A job of three 1 MiB slices, to its own directory: quick once the compression slots are free.</summary>
    internal static BundleJobSpec SmallJob(TempDirectory dir, string name)
    {
        TestIdentity user = TestIdentity.User(dir.Path);
        return new BundleJobSpec
        {
            ImagePath = TestImages.Create(dir.File(name + ".img"), 3_000_000, seed: name.Length),
            Destination = dir.Sub(name),
            User = "123456789012",
            UserCertificatePath = user.CertificatePath,
            PrivateKeyPath = user.PrivateKeyPath,
            CloudCertificatePath = TestIdentity.Cloud(dir.Path).CertificatePath,
            SliceSize = 1 << 20,
        };
    }

    /// <summary>Polls every job until all have finished; fails if more than <paramref name="limit"/> ever ran at once.</summary>
    private async Task<Dictionary<string, BundleJobStatus>> WatchAllAsync(IReadOnlyCollection<string> jobs, int limit)
    {
        using var bound = new CancellationTokenSource(Bound);
        while (true)
        {
            BundleJobStatus[] now = await Task.WhenAll(jobs.Select(id => _client.GetStatusAsync(id, bound.Token)));
            int running = now.Count(s => s.State == BundleJobState.Running);
            Assert.True(running <= limit, $"{running} jobs ran at once, the limit is {limit}");
            if (now.All(s => s.IsFinished))
            {
                return now.ToDictionary(s => s.JobId);
            }

            await Task.Delay(50, bound.Token);
        }
    }

    [Fact]
    public async Task Jobs_beyond_the_limit_wait_in_priority_then_submission_order_and_a_cancelled_waiting_job_leaves_nothing()
    {
        string first, second, third, fourth, urgent;
        await using (new CompressionStall(fixture.Cluster))
        {
            first = await _client.SubmitAsync(Spec("first"));
            second = await _client.SubmitAsync(Spec("second"));
            third = await _client.SubmitAsync(Spec("third"));
            fourth = await _client.SubmitAsync(Spec("fourth"));
            urgent = await _client.SubmitAsync(Spec("urgent", priority: 5));

            // Two run; the urgent one went ahead of the two that were waiting before it.
            Assert.Equal(BundleJobState.Running, (await _client.GetStatusAsync(first)).State);
            Assert.Equal(BundleJobState.Running, (await _client.GetStatusAsync(second)).State);
            BundleJobStatus waiting = await _client.GetStatusAsync(third);
            Assert.Equal(BundleJobState.Queued, waiting.State);
            Assert.Equal(2, waiting.QueuePosition);
            Assert.Equal(1, (await _client.GetStatusAsync(urgent)).QueuePosition);
            Assert.Equal(3, (await _client.GetStatusAsync(fourth)).QueuePosition);
            ScaleSignal signal = await fixture.Cluster.Client.GetGrain<IJobQueueGrain>(0).GetScaleSignalAsync();
            Assert.Equal((3, 2, 2, 2), (signal.QueuedJobs, signal.RunningJobs, signal.ActiveSilos, signal.CompressionSlots));
            Assert.True(signal.SlicesPending >= 5 * 3, $"{signal.SlicesPending} slices pending; five jobs of three slices are not sealed");

            BundleJobStatus cancelled = await _client.CancelAsync(fourth, "not needed");
            Assert.Equal(BundleJobState.Cancelled, cancelled.State);
            Assert.Null(cancelled.RunningSince);
            Assert.Equal(2, (await _client.GetStatusAsync(third)).QueuePosition);
        }

        Dictionary<string, BundleJobStatus> done = await WatchAllAsync([first, second, third, fourth, urgent], TwoRunningJobsClusterFixture.MaxRunningJobs);

        Assert.All(new[] { first, second, third, urgent }, id => Assert.Equal(BundleJobState.Completed, done[id].State));
        // (The order of admission is what the positions above showed; when two places free at once, the two jobs
        // admitted hear it in either order, so their RunningSince times say nothing about priority.)
        Assert.True(done[urgent].RunningSince >= new[] { done[first].FinishedAt, done[second].FinishedAt }.Min(),
            "a waiting job started only when a running one had finished");
        Assert.Equal(BundleJobState.Cancelled, done[fourth].State);
        Assert.Null(done[fourth].RunningSince);
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Sub("fourth")));
        ScaleSignal after = await fixture.Cluster.Client.GetGrain<IJobQueueGrain>(0).GetScaleSignalAsync();
        Assert.Equal((0, 0, 0L), (after.QueuedJobs, after.RunningJobs, after.SlicesPending));
    }

    [Fact]
    public async Task A_tenant_at_its_limit_waits_without_holding_up_other_tenants_and_beyond_its_queue_limit_is_refused()
    {
        var quota = new TenantQuota(MaxRunningJobs: 1, MaxQueuedJobs: 1);
        string a1, a2, b1, a3;
        await using (new CompressionStall(fixture.Cluster))
        {
            a1 = await _client.SubmitAsync(Spec("a1", "tenant-a", quota: quota));
            a2 = await _client.SubmitAsync(Spec("a2", "tenant-a", quota: quota));
            b1 = await _client.SubmitAsync(Spec("b1", "tenant-b", quota: quota));

            // A place was free when a2 came, but its tenant already ran a job; b1, of another tenant, took the place.
            Assert.Equal(BundleJobState.Running, (await _client.GetStatusAsync(a1)).State);
            Assert.Equal(BundleJobState.Queued, (await _client.GetStatusAsync(a2)).State);
            Assert.Equal(BundleJobState.Running, (await _client.GetStatusAsync(b1)).State);

            // tenant-a already has one job waiting, its limit: the next is refused, says why, and writes nothing.
            a3 = await _client.SubmitAsync(Spec("a3", "tenant-a", quota: quota), idempotencyKey: "a3-" + Guid.NewGuid().ToString("N"));
            BundleJobStatus refused = await _client.GetStatusAsync(a3);
            Assert.Equal(BundleJobState.Failed, refused.State);
            Assert.Equal(JobErrorKind.QuotaExceeded, refused.ErrorKind);
            Assert.Contains("tenant-a", refused.Error);
            Assert.Empty(Directory.GetFileSystemEntries(_dir.Sub("a3")));
        }

        Dictionary<string, BundleJobStatus> done = await WatchAllAsync([a1, a2, b1], TwoRunningJobsClusterFixture.MaxRunningJobs);
        Assert.All(done.Values, s => Assert.Equal(BundleJobState.Completed, s.State));
        Assert.True(done[a2].RunningSince >= done[a1].FinishedAt, "tenant-a's second job ran only after its first had finished");
        Assert.Equal("tenant-a", done[a2].Tenant);

        // The refused job's key, tried again once the tenant has room: a fresh try, not the old refusal.
        Assert.Equal(a3, await _client.SubmitAsync(Spec("a3", "tenant-a", quota: quota), idempotencyKey: a3));
        Assert.Equal(BundleJobState.Completed, (await _client.WaitAsync(a3).WaitAsync(Bound)).State);
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>The default limit follows the cluster: one running job per compression slot of the active silos.</summary>
public sealed class QueueFollowsClusterSlotsTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new("queue-slots");
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) => silo.AddBundleClusterGrains(o => o.CompressionSlots = 1).AddBundleClusterInMemoryStorage());
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    [Fact]
    public async Task A_silo_that_joins_lets_a_waiting_job_run_without_waiting_for_a_running_one_to_finish()
    {
        var client = new BundleClusterClient(_cluster.Client, TimeSpan.FromMilliseconds(50));
        string first, second;
        await using (new CompressionStall(_cluster))
        {
            first = await client.SubmitAsync(JobQueueTests.SmallJob(_dir, "first"));
            second = await client.SubmitAsync(JobQueueTests.SmallJob(_dir, "second"));
            Assert.Equal(BundleJobState.Queued, (await client.GetStatusAsync(second)).State); // one slot, one running job

            InProcessSiloHandle joined = await _cluster.StartAdditionalSiloAsync();
            await using var stallJoined = new CompressionStall([joined]); // the newcomer is busy too: nothing can finish
            BundleJobStatus admitted = await client.WatchAsync(second).FirstAsync(s => s.State != BundleJobState.Queued).AsTask()
                .WaitAsync(TimeSpan.FromSeconds(15)); // the queue's own check comes every 30 s: this is the waiting job asking again

            Assert.Equal(BundleJobState.Running, admitted.State);
            Assert.Equal(BundleJobState.Running, (await client.GetStatusAsync(first)).State);
        }

        foreach (string job in new[] { first, second })
        {
            Assert.Equal(BundleJobState.Completed, (await client.WaitAsync(job).WaitAsync(TimeSpan.FromMinutes(2))).State);
        }
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    public void Dispose() => _dir.Dispose();
}
