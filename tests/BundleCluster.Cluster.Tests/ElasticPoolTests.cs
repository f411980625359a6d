using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Client;
using BundleCluster.TestSupport;
using Xunit.Abstractions;

namespace BundleCluster.Cluster.Tests;

/// <summary>
/// The silo pool as an autoscaler changes it: scaled to zero and back, a pod killed while it drains (the burst on an
/// autoscaled pool is <see cref="AutoscaledBurstTests"/>). Real redis-server, bundle-api and bundle-silo processes.
/// </summary>
[Trait("Tier", "Slow")] // real processes
public sealed class ElasticPoolTests(ITestOutputHelper output) : IDisposable
{
    private readonly PoolSet _pools = new("elastic");

    private TempDirectory Dir => _pools.Dir;

    private Pool NewPool(string name) => _pools.New(name);

    [Fact]
    public async Task With_no_silo_a_refused_submission_makes_the_scale_signal_ask_for_one_and_the_retry_runs_once_it_is_up()
    {
        Pool pool = NewPool("zero");
        pool.StartApi();
        using HttpClient alice = pool.Http("alice");
        using HttpClient autoscaler = pool.Http("autoscaler");
        await pool.WaitListeningAsync();

        // No silo, no demand: the numbers are unknown and the autoscaler keeps what it has.
        using HttpResponseMessage unknown = await autoscaler.GetAsync("/v1/scale");
        Assert.True(unknown.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)unknown.StatusCode}: {await unknown.Content.ReadAsStringAsync()}");
        string image = TestImages.Create(Path.Combine(Dir.Sub("images"), "zero.img"), 5_000_000, seed: 3);
        string body = JsonSerializer.Serialize(new { image, destination = pool.Out("zero"), account = "123456789012", identity = "dev" });
        using HttpResponseMessage refused = await Pool.SubmitAsync(alice, body, "wake-1");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("5", refused.Headers.RetryAfter?.ToString());

        // The refusal is backlog: one slice, no silo, so the formula asks for ceil(1 / 256) = 1 silo.
        JsonObject wake = JsonNode.Parse(await autoscaler.GetStringAsync("/v1/scale"))!.AsObject();
        Assert.Equal((1L, 0), ((long)wake["slicesPending"]!, (int)wake["activeSilos"]!));
        Assert.Equal(1, TestAutoscaler.Replicas((long)wake["slicesPending"]!, min: 0, max: 4));

        // The autoscaler starts a silo; the client's retry (same idempotency key) is accepted and runs.
        var clock = Stopwatch.StartNew();
        await pool.StartSiloAsync();
        HttpResponseMessage accepted;
        do
        {
            await Task.Delay(500);
            accepted = await Pool.SubmitAsync(alice, body, "wake-1");
        }
        while (accepted.StatusCode == HttpStatusCode.ServiceUnavailable && clock.Elapsed < TimeSpan.FromSeconds(60));

        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        output.WriteLine($"accepted {clock.Elapsed.TotalSeconds:0.0} s after the silo was asked for");
        JsonObject job = await Pool.WaitFinishedAsync(alice, accepted.Headers.Location!.ToString(), TimeSpan.FromMinutes(2));
        Assert.Equal("Completed", (string)job["state"]!);
        JsonObject after = JsonNode.Parse(await autoscaler.GetStringAsync("/v1/scale"))!.AsObject();
        Assert.Equal((0L, 1), ((long)after["slicesPending"]!, (int)after["activeSilos"]!)); // the real numbers again
    }

    [Fact]
    public async Task Every_silo_stopped_gracefully_mid_job_and_one_started_later_the_job_resumes_without_rewriting_a_part()
    {
        Pool pool = NewPool("zero-mid");
        SiloProcess[] silos = [await pool.StartSiloAsync(), await pool.StartSiloAsync()];
        await using ConnectedBundleCluster cluster = await pool.ConnectAsync();
        (string image, string jobId, BundleJobStatus before) = await StartBusyJobAsync(cluster, pool, "zero-mid", seed: 45);

        foreach (SiloProcess silo in silos)
        {
            silo.Terminate(); // a scale to zero: every pod gets SIGTERM
        }

        foreach (SiloProcess silo in silos)
        {
            Assert.Equal(0, await silo.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        }

        await Task.Delay(TimeSpan.FromSeconds(3)); // nothing runs now
        var back = Stopwatch.StartNew();
        await pool.StartSiloAsync();
        BundleJobStatus done = await WaitWithRetriesAsync(cluster.Client, jobId, TimeSpan.FromMinutes(4));

        output.WriteLine($"all silos stopped at {before.TarBytesSealed} of {before.TarBytes} tar bytes; a new silo finished the job {back.Elapsed.TotalSeconds:0.0} s after it started; kept {done.PartsResumed} parts, rewrote {done.PartsRewritten}");
        pool.JobLogLines().ToList().ForEach(output.WriteLine);
        Assert.Equal(0, done.PartsRewritten);
        Assert.True(done.PartsResumed > 0, "the job started over instead of resuming");
        await ClusterJobs.AssertRestoresAsync(Dir.Path, done, image);
    }

    [Fact]
    public async Task A_silo_killed_while_it_drains_in_a_scale_in_costs_redone_work_but_not_the_job()
    {
        Pool pool = NewPool("kill-drain");
        SiloProcess[] silos = [await pool.StartSiloAsync(), await pool.StartSiloAsync()];
        await using ConnectedBundleCluster cluster = await pool.ConnectAsync();
        (string image, string jobId, BundleJobStatus before) = await StartBusyJobAsync(cluster, pool, "kill-drain", seed: 47);
        SiloProcess sealerSilo = ClusterJobs.SealerOf(silos, before);

        // The kubelet's SIGTERM, then its SIGKILL at once, as when the grace period is too short for the drain.
        sealerSilo.Terminate();
        await Task.Delay(100);
        sealerSilo.Kill();
        BundleJobStatus done = await cluster.Client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(4));

        output.WriteLine($"killed while draining at {before.TarBytesSealed} of {before.TarBytes}; kept {done.PartsResumed} parts, rewrote {done.PartsRewritten}");
        Assert.InRange(done.PartsRewritten, 0, 3); // at most what the killed sealer staged after its last checkpoint
        await ClusterJobs.AssertRestoresAsync(Dir.Path, done, image);
    }

    /// <summary>A 150 MB level-9 job on the pool, waited for until 30% is sealed (it must still be running then).</summary>
    private async Task<(string Image, string JobId, BundleJobStatus Running)> StartBusyJobAsync(
        ConnectedBundleCluster cluster, Pool pool, string name, int seed)
    {
        string image = ClusterJobs.BusyImage(Dir.File(name + ".img"), 150_000_000, seed);
        string jobId = await cluster.Client.SubmitAsync(ClusterJobs.Spec(Dir.Path, image, pool.Out(name), level: 9));
        BundleJobStatus running = await ClusterJobs.WaitForProgressAsync(cluster.Client, jobId, 0.3);
        Assert.False(running.IsFinished, "the job finished before the silos could be stopped");
        return (image, jobId, running);
    }

    /// <summary>Waits for the job's end while the cluster comes back (the client's calls fail until a silo has joined).</summary>
    private static async Task<BundleJobStatus> WaitWithRetriesAsync(BundleClusterClient client, string jobId, TimeSpan within)
    {
        for (var clock = Stopwatch.StartNew(); ; await Task.Delay(500))
        {
            try
            {
                return await client.WaitAsync(jobId).WaitAsync(within - clock.Elapsed);
            }
            catch (Exception ex) when (ex is not TimeoutException && clock.Elapsed < within)
            {
                // the cluster is still coming back
            }
        }
    }

    public void Dispose() => _pools.Dispose();
}
