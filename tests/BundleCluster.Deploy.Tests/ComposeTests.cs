using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Amazon.S3.Transfer;
using BundleCluster.Storage.S3;
using BundleCluster.TestSupport;
using Xunit.Abstractions;

namespace BundleCluster.Deploy.Tests;

/// <summary>
/// docker-compose.yml with docker-compose.local.yml (the images build-local.sh made), brought up for real by
/// Debian's docker-compose 1.29 on ports bound to 127.0.0.1, used the way a user uses it: a job over REST with a
/// token, the bundle fetched from the S3 store with bundlectl and restored with openssl/gzip/tar, its trace read
/// back from the OTLP backend; a silo container stopped mid-job; and docker-compose down -v leaving nothing behind.
/// </summary>
[Trait("Tier", "Exclusive")] // a Docker engine, seven containers and 750 MB of jobs: run alone, after the rest
public sealed class ComposeTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new("compose");
    private readonly string _project = "bct" + Guid.NewGuid().ToString("N")[..8];
    private readonly Dictionary<string, string> _environment = new()
    {
        ["BIND_ADDR"] = "127.0.0.1",
        ["API_PORT"] = RedisServer.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["S3_PORT"] = RedisServer.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["REDIS_PORT"] = RedisServer.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["DASHBOARD_PORT"] = RedisServer.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
    private bool _up;

    private string Api => $"http://127.0.0.1:{_environment["API_PORT"]}";

    private string S3 => $"http://127.0.0.1:{_environment["S3_PORT"]}";

    private string Secrets => Path.Combine(_dir.Path, "secrets");

    [Fact]
    public async Task A_REST_job_bundles_into_the_S3_store_is_traced_across_silo_containers_survives_a_stopped_silo_and_down_leaves_nothing()
    {
        Commands.Run("bash", [Path.Combine(RepositoryPaths.Root, "deploy", "docker", "dev-secrets.sh"), Secrets]);
        _environment["BUNDLECLUSTER_SECRETS"] = Secrets;
        var clock = Stopwatch.StartNew();
        Compose("up", "-d");
        _up = true;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30), BaseAddress = new Uri(Api) };
        await WaitForAsync(http, $"{Api}/health/ready", TimeSpan.FromMinutes(2));
        output.WriteLine($"up and ready in {clock.Elapsed.TotalSeconds:0.0} s");
        string token = Commands.Run("bash", [Path.Combine(RepositoryPaths.Root, "deploy", "docker", "dev-secrets.sh"), "token", "developer", Secrets]).Trim();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Assert.All(PublishedPorts(), p => Assert.StartsWith("127.0.0.1:", p, StringComparison.Ordinal));

        // 1. A job over REST, into the S3 store, restored byte-identical with the real tools.
        string image = TestImages.Create(_dir.File("web.img"), 40_000_000, seed: 61);
        await UploadAsync(image, "images/web.img");
        JsonElement done = await RunJobAsync(http, "web", "s3://bundles/images/web.img", level: 6);
        Assert.Equal("Completed", done.GetProperty("state").GetString());
        string manifest = Download("bundles/web", "web.img");
        var dev = TestIdentity.FromFiles(Path.Combine(Secrets, "identities", "dev", "cert.pem"), Path.Combine(Secrets, "identities", "dev", "pk.pem"));
        string restored = ClassicPipeline.Restore(_dir.Path, manifest, dev);
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "web.img")), "the restored image differs");

        // 2. The job's trace reached the OTLP backend, with spans from at least two silo containers.
        string traceId = done.GetProperty("traceId").GetString()!;
        HashSet<string> silos = await SilosInTraceAsync(traceId);
        output.WriteLine($"trace {traceId}: spans from silos {string.Join(", ", silos)}");
        Assert.True(silos.Count >= 2, $"spans from {silos.Count} silo container(s) only");

        // 3. A silo container stopped mid-job: the job still completes, and a graceful stop rewrites no part.
        // Big enough that a quarter in, the rest outlasts the stop (a 150 MB image finished while its silo stopped).
        string busy = TestImages.Create(_dir.File("busy.img"), 600_000_000, seed: 62);
        await UploadAsync(busy, "images/busy.img");
        string id = await SubmitAsync(http, "busy", "s3://bundles/images/busy.img", level: 9);
        JsonElement running = await WaitAsync(http, id, j => j.GetProperty("progress").GetProperty("bytesSealed").GetInt64() * 4 > j.GetProperty("progress").GetProperty("tarBytes").GetInt64());
        Assert.Equal("Running", running.GetProperty("state").GetString());
        string sealer = running.GetProperty("sealerSilo").GetString()!;
        string service = SiloServiceAt(sealer);
        var stopping = Stopwatch.StartNew();
        Compose("stop", service);
        output.WriteLine($"stopped {service} (the sealer's, {sealer}) in {stopping.Elapsed.TotalSeconds:0.0} s");
        JsonElement afterStop = await WaitAsync(http, id, _ => true);
        Assert.True(afterStop.GetProperty("state").GetString() == "Running", $"the job did not outlast the stop: {afterStop}");
        JsonElement finished = await WaitAsync(http, id, j => j.GetProperty("state").GetString() is "Completed" or "Failed" or "Cancelled");
        output.WriteLine($"finished {stopping.Elapsed.TotalSeconds:0.0} s after the stop; progress {finished.GetProperty("progress")}");
        Assert.Equal("Completed", finished.GetProperty("state").GetString());
        Assert.Equal(0, finished.GetProperty("progress").GetProperty("partsRewritten").GetInt32());
        Assert.NotEqual(sealer, finished.GetProperty("sealerSilo").GetString());
        string busyManifest = Download("bundles/busy", "busy.img");
        Assert.True(TestImages.SameContent(busy, Path.Combine(ClassicPipeline.Restore(_dir.Path, busyManifest, dev), "busy.img")), "the restored image differs");

        // 4. down -v: no container, network or volume of the project is left.
        Compose("down", "-v");
        _up = false;
        Assert.Equal("", Commands.Run("docker", ["ps", "-aq", "--filter", $"label=com.docker.compose.project={_project}"]).Trim());
        Assert.Equal("", Commands.Run("docker", ["volume", "ls", "-q", "--filter", $"label=com.docker.compose.project={_project}"]).Trim());
        Assert.Equal("", Commands.Run("docker", ["network", "ls", "-q", "--filter", $"label=com.docker.compose.project={_project}"]).Trim());
    }

    private string Compose(params string[] args) => Commands.Run("docker-compose",
        ["-p", _project, "-f", Path.Combine(RepositoryPaths.Root, "docker-compose.yml"), "-f", Path.Combine(RepositoryPaths.Root, "docker-compose.local.yml"), .. args],
        environment: _environment);

    private IEnumerable<string> PublishedPorts() =>
        Commands.Run("docker", ["ps", "--filter", $"label=com.docker.compose.project={_project}", "--format", "{{.Ports}}"])
            .Split(['\n', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(p => p.Contains("->", StringComparison.Ordinal));

    /// <summary>The compose service whose container has the silo address's IP.</summary>
    private string SiloServiceAt(string siloAddress)
    {
        string ip = siloAddress.TrimStart('S').Split(':')[0];
        foreach (string service in new[] { "silo1", "silo2", "silo3" })
        {
            string container = Compose("ps", "-q", service).Trim();
            if (Commands.Run("docker", ["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", container]).Contains(ip, StringComparison.Ordinal))
            {
                return service;
            }
        }

        throw new Xunit.Sdk.XunitException($"no silo container has the address {siloAddress}");
    }

    private async Task UploadAsync(string file, string key)
    {
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", "dev");
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", "dev-secret");
        using var client = new S3Settings(S3).CreateClient();
        using var transfer = new TransferUtility(client);
        await transfer.UploadAsync(file, "bundles", key);
    }

    /// <summary>bundlectl download-bundle from the store (it checks every part's SHA-1); the manifest's path.</summary>
    private string Download(string prefix, string name)
    {
        string into = _dir.Sub("download-" + name);
        BundleCtlMemory.Result result = BundleCtlMemory.Run("download-bundle", "-b", $"bundles/{prefix}", "-p", name, "-d", into, "--endpoint-url", S3);
        Assert.True(result.ExitCode == 0, $"download-bundle failed ({result.ExitCode}): {result.StdErr}");
        return Path.Combine(into, name + ".manifest.xml");
    }

    private static async Task<JsonElement> RunJobAsync(HttpClient http, string name, string image, int level) =>
        await WaitAsync(http, await SubmitAsync(http, name, image, level), j => j.GetProperty("state").GetString() is "Completed" or "Failed" or "Cancelled");

    private static async Task<string> SubmitAsync(HttpClient http, string name, string image, int level)
    {
        string body = JsonSerializer.Serialize(new { image, destination = $"s3://bundles/bundles/{name}", account = "123456789012", identity = "dev", level });
        using HttpResponseMessage response = await http.PostAsync(new Uri(http.BaseAddress!, "/v1/jobs"), new StringContent(body, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"submit answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    private static async Task<JsonElement> WaitAsync(HttpClient http, string id, Func<JsonElement, bool> until)
    {
        JsonElement last = default;
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromMinutes(4); await Task.Delay(200))
        {
            last = JsonDocument.Parse(await http.GetStringAsync(new Uri(http.BaseAddress!, $"/v1/jobs/{id}"))).RootElement.Clone();
            if (until(last) || last.GetProperty("state").GetString() is "Failed" or "Cancelled")
            {
                return last;
            }
        }

        throw new Xunit.Sdk.XunitException($"job {id} never got there: {last}");
    }

    private async Task<HashSet<string>> SilosInTraceAsync(string traceId)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var silos = new HashSet<string>();
        for (DateTime until = DateTime.UtcNow.AddSeconds(30); silos.Count < 2 && DateTime.UtcNow < until; await Task.Delay(1000))
        {
            HttpResponseMessage response = await http.GetAsync($"http://127.0.0.1:{_environment["DASHBOARD_PORT"]}/api/telemetry/traces/{traceId}");
            if (!response.IsSuccessStatusCode)
            {
                continue;
            }

            using JsonDocument json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            foreach (JsonElement resourceSpans in json.RootElement.GetProperty("data").GetProperty("resourceSpans").EnumerateArray())
            {
                string? instance = resourceSpans.GetProperty("resource").GetProperty("attributes").EnumerateArray()
                    .Where(a => a.GetProperty("key").GetString() == "service.instance.id").Select(a => a.GetProperty("value").GetProperty("stringValue").GetString()).FirstOrDefault();
                if (instance is not null && instance.StartsWith("silo", StringComparison.Ordinal))
                {
                    silos.Add(instance);
                }
            }
        }

        return silos;
    }

    private static async Task WaitForAsync(HttpClient http, string url, TimeSpan within)
    {
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < within; await Task.Delay(500))
        {
            try
            {
                if ((await http.GetAsync(url)).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not up yet
            }
        }

        throw new Xunit.Sdk.XunitException($"{url} did not answer within {within.TotalSeconds} s");
    }

    public void Dispose()
    {
        if (_up)
        {
            try
            {
                output.WriteLine(Compose("logs", "--no-color", "--tail", "40"));
            }
            catch (Xunit.Sdk.XunitException)
            {
                // the logs are a courtesy
            }

            Compose("down", "-v");
        }

        _dir.Dispose();
    }
}
