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
/// A cluster whose silos all go away — scaled to zero by the autoscaler, or every pod stopped — and come back: the
/// scale signal still asks for a silo when work arrives, and waiting work resumes when one returns. Real redis-server,
/// bundle-api and bundle-silo processes.
/// </summary>
[Trait("Tier", "Slow")] // real processes
public sealed class ScaleToZeroTests(ITestOutputHelper output) : IDisposable
{
    private readonly RedisServer _redis = new();
    private readonly TempDirectory _dir = new("zero");
    private readonly string _clusterId = "zero-" + Guid.NewGuid().ToString("N")[..8];
    private readonly List<SiloProcess> _silos = [];
    private ApiProcess? _api;
    private TestTokens? _tokens;

    private string Identities => Path.Combine(_dir.Path, "identities");

    private async Task<SiloProcess> StartSiloAsync()
    {
        WriteIdentity();
        var silo = new SiloProcess(_redis.Address, _clusterId, [_dir.Path], flags: ["--identity-root", Identities]);
        _silos.Add(silo);
        await silo.WaitStartedAsync();
        return silo;
    }

    [Fact]
    public async Task With_no_silo_a_refused_submission_makes_the_scale_signal_ask_for_one_and_the_retry_runs_once_it_is_up()
    {
        StartApi();
        using HttpClient alice = Http("alice");
        using HttpClient autoscaler = Http("autoscaler");
        await WaitListeningAsync(alice);

        // No silo, no demand: the numbers are unknown and the autoscaler keeps what it has.
        using HttpResponseMessage unknown = await autoscaler.GetAsync("/v1/scale");
        Assert.True(unknown.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)unknown.StatusCode}: {await unknown.Content.ReadAsStringAsync()}\n{_api!.Log}");
        string image = TestImages.Create(Path.Combine(_dir.Sub("images"), "zero.img"), 5_000_000, seed: 3);
        string body = JsonSerializer.Serialize(new { image, destination = _dir.Sub("out"), account = "123456789012", identity = "dev" });
        using HttpResponseMessage refused = await SubmitAsync(alice, body);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("5", refused.Headers.RetryAfter?.ToString());

        // The refusal is backlog: one slice, no silo — replicas = ceil(1 / 256) = 1 with the documented formula.
        JsonObject wake = JsonNode.Parse(await autoscaler.GetStringAsync("/v1/scale"))!.AsObject();
        Assert.Equal(1, (long)wake["slicesPending"]!);
        Assert.Equal(0, (int)wake["activeSilos"]!);

        // The autoscaler starts a silo; the client's retry (same idempotency key) is accepted and runs.
        var clock = Stopwatch.StartNew();
        await StartSiloAsync();
        HttpResponseMessage accepted;
        do
        {
            await Task.Delay(500);
            accepted = await SubmitAsync(alice, body);
        }
        while (accepted.StatusCode == HttpStatusCode.ServiceUnavailable && clock.Elapsed < TimeSpan.FromSeconds(60));

        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        output.WriteLine($"accepted {clock.Elapsed.TotalSeconds:0.0} s after the silo was asked for");
        string location = accepted.Headers.Location!.ToString();
        JsonObject job;
        do
        {
            await Task.Delay(200);
            job = JsonNode.Parse(await alice.GetStringAsync(location))!.AsObject();
        }
        while ((string)job["state"]! is not ("Completed" or "Failed") && clock.Elapsed < TimeSpan.FromMinutes(2));

        Assert.Equal("Completed", (string)job["state"]!);
        JsonObject after = JsonNode.Parse(await autoscaler.GetStringAsync("/v1/scale"))!.AsObject();
        Assert.Equal((0L, 1), ((long)after["slicesPending"]!, (int)after["activeSilos"]!)); // the real numbers again
    }

    [Fact]
    public async Task Every_silo_stopped_gracefully_mid_job_and_one_started_later_the_job_resumes_without_rewriting_a_part()
    {
        SiloProcess[] silos = [await StartSiloAsync(), await StartSiloAsync()];
        await using ConnectedBundleCluster cluster = await BundleClusterConnection.ConnectAsync(new BundleClusterConnectionOptions
        {
            Redis = _redis.Address,
            ClusterId = _clusterId,
            ServiceId = _clusterId,
        });
        string image = ClusterJobs.BusyImage(_dir.File("zero-mid.img"), 150_000_000, seed: 45);
        string jobId = await cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub("bundle-mid"), level: 9));
        BundleJobStatus before = await ClusterJobs.WaitForProgressAsync(cluster.Client, jobId, 0.3);
        Assert.False(before.IsFinished, "the job finished before the silos could be stopped");

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
        await StartSiloAsync();
        BundleJobStatus done = await WaitWithRetriesAsync(cluster.Client, jobId, TimeSpan.FromMinutes(4));

        output.WriteLine($"all silos stopped at {before.TarBytesSealed} of {before.TarBytes} tar bytes; a new silo finished the job {back.Elapsed.TotalSeconds:0.0} s after it started; kept {done.PartsResumed} parts, rewrote {done.PartsRewritten}");
        Assert.Equal(0, done.PartsRewritten);
        Assert.True(done.PartsResumed > 0, "the job started over instead of resuming");
        await ClusterJobs.AssertRestoresAsync(_dir.Path, done, image);
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

    /// <summary>The signing identity "dev" as the silos' operator mounts it: IDENTITY-ROOT/dev/{cert,pk,cloud-cert}.pem.</summary>
    private void WriteIdentity()
    {
        string dir = Path.Combine(Identities, "dev");
        if (Directory.Exists(dir))
        {
            return;
        }

        Directory.CreateDirectory(dir);
        TestIdentity user = TestIdentity.User(_dir.Path);
        File.Copy(user.CertificatePath, Path.Combine(dir, "cert.pem"));
        File.Copy(user.PrivateKeyPath, Path.Combine(dir, "pk.pem"));
        File.Copy(TestIdentity.Cloud(_dir.Path).CertificatePath, Path.Combine(dir, "cloud-cert.pem"));
    }

    private void StartApi()
    {
        WriteIdentity();
        string tenants = _dir.File("tenants.json");
        File.WriteAllText(tenants, $$$"""
            {"claim": "sub",
             "tenants": {"team-a": {"subjects": ["alice"], "images": ["{{{_dir.Path}}}/images"], "destinations": ["{{{_dir.Path}}}/out"], "identities": ["dev"]}},
             "scaleReaders": ["autoscaler"]}
            """);
        _tokens = TestTokens.Rsa(_dir.Path);
        _api = new ApiProcess(_redis.Address, _clusterId, ["--jwt-key-file", _tokens.PublicKeyPath, "--jwt-issuer", TestTokens.Issuer,
            "--jwt-audience", TestTokens.Audience, "--tenants", tenants]);
    }

    private HttpClient Http(string subject)
    {
        var http = new HttpClient { BaseAddress = _api!.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _tokens!.For(subject));
        return http;
    }

    private static async Task<HttpResponseMessage> SubmitAsync(HttpClient http, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", "wake-1");
        return await http.SendAsync(request);
    }

    private static async Task WaitListeningAsync(HttpClient http)
    {
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(60); await Task.Delay(200))
        {
            try
            {
                if ((await http.GetAsync("/health/live")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
        }

        throw new Xunit.Sdk.XunitException("bundle-api did not start");
    }

    public void Dispose()
    {
        _api?.Dispose();
        foreach (SiloProcess silo in _silos)
        {
            silo.Dispose();
        }

        _redis.Dispose();
        _tokens?.Dispose();
        _dir.Dispose();
    }
}
