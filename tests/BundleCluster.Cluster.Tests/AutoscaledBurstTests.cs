using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using BundleCluster.TestSupport;
using Xunit.Abstractions;

namespace BundleCluster.Cluster.Tests;

/// <summary>
/// A burst of jobs on a silo pool driven the way KEDA's HPA would drive it (read /v1/scale, apply the documented
/// formula, start silos or SIGTERM them), against one fixed silo. Each silo is a real bundle-silo process with half a
/// core (a cgroup CPU quota), so more silos really are more machine. It measures, so it runs alone, after the rest.
/// </summary>
[Trait("Tier", "Exclusive")] // real processes, 3 GiB of work, timing compared: scripts/test.sh runs it on its own
public sealed class AutoscaledBurstTests(ITestOutputHelper output) : IDisposable
{
    private readonly PoolSet _pools = new("burst");

    private TempDirectory Dir => _pools.Dir;

    private Pool NewPool(string name) => _pools.New(name);

    [Fact]
    public async Task A_burst_on_an_autoscaled_pool_of_half_core_silos_scales_out_and_back_to_one_rewrites_nothing_and_beats_a_fixed_silo()
    {
        Assert.True(CpuQuota.Available, "the cgroup v1 cpu controller is needed to give each silo half a core");
        string image = TestImages.Create(Path.Combine(Dir.Sub("images"), "burst.img"), 256L << 20, seed: 71);
        const int jobs = 12;

        // The fixed pool: one half-core silo takes the whole burst.
        Pool fixedPool = NewPool("fixed");
        await fixedPool.StartSiloAsync(quota: 0.5);
        fixedPool.StartApi();
        TimeSpan fixedTime = await RunBurstAsync(fixedPool, image, jobs, autoscaler: null);

        // The autoscaled pool: starts with one half-core silo; the autoscaler below adds and removes them.
        Pool elastic = NewPool("elastic");
        await elastic.StartSiloAsync(quota: 0.5);
        elastic.StartApi();
        var scaler = new TestAutoscaler(elastic, output);
        TimeSpan elasticTime = await RunBurstAsync(elastic, image, jobs, scaler);
        await scaler.ScaleInToMinimumAsync(TimeSpan.FromMinutes(2));

        output.WriteLine($"{jobs} jobs of 256 MiB: fixed single silo {fixedTime.TotalSeconds:0.0} s, autoscaled {elasticTime.TotalSeconds:0.0} s " +
                         $"({fixedTime / elasticTime:0.00}x); silos over time: {string.Join(" ", scaler.Timeline)}");
        Assert.True(scaler.Peak >= 3, $"the pool never scaled out (peak {scaler.Peak} silos)");
        Assert.Equal(1, elastic.RunningSilos);
        Assert.True(scaler.ScaledIn >= 2, "the pool never scaled in while work remained or after it");
        Assert.True(elasticTime < fixedTime, $"the autoscaled pool ({elasticTime.TotalSeconds:0.0} s) was not faster than one silo ({fixedTime.TotalSeconds:0.0} s)");
    }

    /// <summary>Submits the burst over REST, waits for every job (while the autoscaler runs), checks every bundle.</summary>
    private async Task<TimeSpan> RunBurstAsync(Pool pool, string image, int jobs, TestAutoscaler? autoscaler)
    {
        using HttpClient alice = pool.Http("alice");
        await pool.WaitReadyAsync();
        using var stop = new CancellationTokenSource();
        Task scaling = autoscaler?.RunAsync(stop.Token) ?? Task.CompletedTask;
        var clock = Stopwatch.StartNew();
        var locations = new List<string>();
        for (int i = 0; i < jobs; i++)
        {
            string body = JsonSerializer.Serialize(new { image, destination = pool.Out($"b{i}"), account = "123456789012", identity = "dev", prefix = $"burst-{i}" });
            HttpResponseMessage accepted = await Pool.SubmitAsync(alice, body, $"burst-{i}");
            Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, $"{(int)accepted.StatusCode}: {await accepted.Content.ReadAsStringAsync()}");
            locations.Add(accepted.Headers.Location!.ToString());
        }

        var finished = new List<JsonObject>();
        foreach (string location in locations)
        {
            finished.Add(await Pool.WaitFinishedAsync(alice, location, TimeSpan.FromMinutes(6)));
        }

        TimeSpan elapsed = clock.Elapsed;
        await stop.CancelAsync();
        await scaling;
        foreach (JsonObject job in finished.Where(j => (int)j["progress"]!["partsRewritten"]! > 0))
        {
            output.WriteLine($"job {job["id"]} rewrote parts; its log lines:");
            pool.JobLogLines().Where(l => l.Contains((string)job["id"]!, StringComparison.Ordinal)).ToList().ForEach(output.WriteLine);
        }

        foreach (JsonObject job in finished)
        {
            Assert.True((string)job["state"]! == "Completed", job.ToJsonString());
            Assert.Equal(0, (int)job["progress"]!["partsRewritten"]!); // scale-ins drained: nothing durable was redone
            await ClusterJobs.VerifyAsync((string)job["manifest"]!, pool.Identity);
        }

        ClassicPipeline.Restore(Dir.Path, (string)finished[^1]["manifest"]!, pool.Identity); // and one with the real tools
        return elapsed;
    }

    public void Dispose() => _pools.Dispose();
}
