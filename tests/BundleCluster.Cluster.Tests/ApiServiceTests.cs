using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Client;
using BundleCluster.Client.Service;
using BundleCluster.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace BundleCluster.Cluster.Tests;

/// <summary>
/// redis-server, two bundle-silo processes holding a signing identity, and bundle-api in front, as a team runs them;
/// two tenants (alice's team-a, bob's team-b) and an autoscaler that may read the scale signal.
/// </summary>
public sealed class ApiServiceFixture : IAsyncLifetime
{
    private readonly RedisServer _redis = new();
    private readonly List<SiloProcess> _silos = [];
    private readonly string _clusterId = "api-" + Guid.NewGuid().ToString("N")[..8];

    public TempDirectory Dir { get; } = new("api");

    public TestTokens Tokens { get; private set; } = null!;

    public ApiProcess Api { get; private set; } = null!;

    public string Redis => _redis.Address;

    public string ClusterId => _clusterId;

    public string TenantsFile => Dir.File("tenants.json");

    public string ImagesA => Path.Combine(Dir.Path, "a-images");

    public string OutA => Path.Combine(Dir.Path, "a-out");

    public string ImagesB => Path.Combine(Dir.Path, "b-images");

    /// <summary>The logs of every process, to check that no secret reaches them.</summary>
    public string AllLogs => string.Join("\n", _silos.Select(s => s.Log).Append(Api.Log));

    public async Task InitializeAsync()
    {
        foreach (string dir in new[] { ImagesA, OutA, ImagesB, Path.Combine(Dir.Path, "b-out") })
        {
            Directory.CreateDirectory(dir);
        }

        // Signing identities as the silos' operator mounts them: IDENTITY-ROOT/NAME/{cert,pk,cloud-cert}.pem.
        string identities = Dir.Sub("identities");
        foreach (string name in new[] { "dev", "other" })
        {
            string dir = Directory.CreateDirectory(Path.Combine(identities, name)).FullName;
            TestIdentity user = TestIdentity.User(Dir.Path);
            File.Copy(user.CertificatePath, Path.Combine(dir, "cert.pem"));
            File.Copy(user.PrivateKeyPath, Path.Combine(dir, "pk.pem"));
            File.Copy(TestIdentity.Cloud(Dir.Path).CertificatePath, Path.Combine(dir, "cloud-cert.pem"));
        }

        string tenants = TenantsFile;
        File.WriteAllText(tenants, $$$"""
            {"claim": "sub",
             "tenants": {
               "team-a": {"subjects": ["alice"], "images": ["{{{ImagesA}}}"], "destinations": ["{{{OutA}}}"], "identities": ["dev"]},
               "team-b": {"subjects": ["bob"], "images": ["{{{ImagesB}}}"], "destinations": ["{{{Dir.Path}}}/b-out"], "identities": ["dev"]},
               "team-c": {"subjects": ["carol"], "images": ["{{{ImagesA}}}"], "destinations": ["{{{OutA}}}"], "identities": ["dev"], "maxRunningJobs": 1}},
             "scaleReaders": ["autoscaler"], "operators": ["ops"]}
            """);
        Tokens = TestTokens.Rsa(Dir.Path);
        for (int i = 0; i < 2; i++)
        {
            var silo = new SiloProcess(_redis.Address, _clusterId, [Dir.Path], flags: ["--identity-root", identities, "--dashboard"]);
            _silos.Add(silo);
        }

        foreach (SiloProcess silo in _silos)
        {
            await silo.WaitStartedAsync();
        }

        Api = new ApiProcess(_redis.Address, _clusterId, ["--jwt-key-file", Tokens.PublicKeyPath, "--jwt-issuer", TestTokens.Issuer,
            "--jwt-audience", TestTokens.Audience, "--tenants", tenants, "--dashboard"]);
        await Api.WaitReadyAsync();
    }

    /// <summary>A plain HTTP client (no SDK) with <paramref name="subject"/>'s token, or none.</summary>
    public HttpClient Http(string? subject = "alice")
    {
        var http = new HttpClient { BaseAddress = Api.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        if (subject is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.For(subject));
        }

        return http;
    }

    public Task DisposeAsync()
    {
        Api?.Dispose();
        foreach (SiloProcess silo in _silos)
        {
            silo.Dispose();
        }

        _redis.Dispose();
        Tokens?.Dispose();
        Dir.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>bundle-api against real processes, spoken to in plain HTTP (what a pipeline in any language does).</summary>
[Trait("Tier", "Slow")] // redis-server, two bundle-silo processes and bundle-api
public sealed class ApiServiceTests(ApiServiceFixture service, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<ApiServiceFixture>
{
    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    private object Job(string image, string? destination = null, object? labels = null, int? level = null) => new
    {
        image,
        destination = destination ?? service.OutA,
        account = "123456789012",
        identity = "dev",
        labels,
        level,
    };

    private string Image(string name, long size = 3_000_000, string? directory = null) =>
        TestImages.Create(Path.Combine(directory ?? service.ImagesA, name), size, seed: name.Length);

    private static async Task<JsonObject> ProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode} instead of {(int)expected}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>Reads a job's SSE stream to its final event; returns every (event, id, data) seen.</summary>
    private static async Task<List<(string Event, string Id, JsonObject Data)>> ReadEventsAsync(HttpClient http, string location, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, location + "/events");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        using HttpResponseMessage response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<(string, string, JsonObject)>();
        string? type = null, id = null, data = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0)
            {
                events.Add((type ?? "message", id ?? "", JsonNode.Parse(data!)!.AsObject()));
                if (type == "final")
                {
                    break;
                }

                (type, id, data) = (null, null, null);
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                type = line["event: ".Length..];
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line["id: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data = line["data: ".Length..];
            }
        }

        return events;
    }

    [Fact]
    public async Task A_job_over_plain_HTTP_runs_on_both_silos_its_event_stream_ends_Completed_and_the_bundle_restores_with_real_tools()
    {
        string image = ClusterJobs.BusyImage(Path.Combine(service.ImagesA, "web.img"), 40_000_000, seed: 70);
        string destination = Directory.CreateDirectory(Path.Combine(service.OutA, "web")).FullName;
        using HttpClient http = service.Http();

        HttpResponseMessage submitted = await http.PostAsync("/v1/jobs", Json(Job(image, destination, new { team = "web", night = "1" }, level: 9)));

        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        string location = submitted.Headers.Location!.OriginalString;
        JsonObject job = JsonNode.Parse(await submitted.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal($"/v1/jobs/{job["id"]}", location);
        List<(string Event, string Id, JsonObject Data)> events = await ReadEventsAsync(http, location).WaitAsync(TimeSpan.FromMinutes(3));
        (string type, string lastId, JsonObject final) = events[^1];
        Assert.Equal("final", type);
        Assert.Equal("Completed", final["state"]!.GetValue<string>());
        Assert.True(events.Count >= 2, "a status event before the final one");
        Assert.Equal(2, final["silos"]!.AsObject().Count);
        Assert.Equal("web", final["labels"]!["team"]!.GetValue<string>());
        string manifest = final["manifest"]!.GetValue<string>();
        string restored = ClassicPipeline.Restore(service.Dir.Path, manifest, TestIdentity.User(service.Dir.Path));
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "web.img")));

        // A client that lost the connection reconnects with the last id it saw: it still gets the final state.
        List<(string Event, string Id, JsonObject Data)> again = await ReadEventsAsync(http, location, lastId);
        Assert.Equal("final", again[^1].Event);
        Assert.Equal("Completed", again[^1].Data["state"]!.GetValue<string>());

        // The tenant finds it by label; its listing is its own.
        JsonObject page = JsonNode.Parse(await http.GetStringAsync("/v1/jobs?label=team=web&state=Completed"))!.AsObject();
        Assert.Contains(page["jobs"]!.AsArray(), j => j!["id"]!.GetValue<string>() == job["id"]!.GetValue<string>());
        using HttpClient bob = service.Http("bob");
        JsonObject bobs = JsonNode.Parse(await bob.GetStringAsync("/v1/jobs"))!.AsObject();
        Assert.DoesNotContain(bobs["jobs"]!.AsArray(), j => j!["id"]!.GetValue<string>() == job["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_idempotency_key_names_one_job_even_when_two_requests_race_and_refuses_a_different_request()
    {
        string image = Image("idem.img");
        string destination = Directory.CreateDirectory(Path.Combine(service.OutA, "idem")).FullName;
        using HttpClient http = service.Http();
        string key = "nightly/web/" + Guid.NewGuid().ToString("N");
        HttpRequestMessage Submit(object body)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = Json(body) };
            request.Headers.Add("Idempotency-Key", key);
            return request;
        }

        HttpResponseMessage[] raced = await Task.WhenAll(http.SendAsync(Submit(Job(image, destination))), http.SendAsync(Submit(Job(image, destination))));
        HttpResponseMessage later = await http.SendAsync(Submit(Job(image, destination)));

        Assert.All(raced.Append(later), r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        Assert.Single(raced.Append(later).Select(r => r.Headers.Location!.OriginalString).Distinct());
        JsonObject problem = await ProblemAsync(await http.SendAsync(Submit(Job(image, destination, level: 9))), HttpStatusCode.UnprocessableEntity);
        Assert.Equal("Idempotency-Key", problem["field"]!.GetValue<string>());

        // Another tenant's identical key is another job.
        string bobImage = Image("idem.img", directory: service.ImagesB);
        using HttpClient bob = service.Http("bob");
        var bobs = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = Json(Job(bobImage, Path.Combine(service.Dir.Path, "b-out"))) };
        bobs.Headers.Add("Idempotency-Key", key);
        HttpResponseMessage bobResponse = await bob.SendAsync(bobs);
        Assert.Equal(HttpStatusCode.Accepted, bobResponse.StatusCode);
        Assert.NotEqual(later.Headers.Location, bobResponse.Headers.Location);
    }

    [Fact]
    public async Task Tokens_that_are_missing_expired_for_another_audience_badly_signed_or_unsigned_get_401_with_the_reason()
    {
        using TestTokens stranger = TestTokens.Rsa(service.Dir.Sub("stranger"));
        (string? Token, string Reason)[] cases =
        [
            (null, "a bearer token is required"),
            (service.Tokens.For("alice", lifetime: TimeSpan.FromMinutes(-5)), "expired"),
            (service.Tokens.For("alice", audience: "someone-else"), "another audience"),
            (service.Tokens.For("alice", issuer: "https://evil.test"), "another issuer"),
            (stranger.For("alice"), "signature"),
            (service.Tokens.WithoutSignature("alice"), "signature"),
            ("not-a-jwt", "well-formed"),
        ];
        using HttpClient http = service.Http(subject: null);
        foreach ((string? token, string reason) in cases)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/jobs");
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            JsonObject problem = await ProblemAsync(await http.SendAsync(request), HttpStatusCode.Unauthorized);
            Assert.Contains(reason, problem["detail"]!.GetValue<string>());
        }

        // Health is the one thing open to anyone; the scale signal wants its own grant.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
        using HttpClient alice = service.Http();
        await ProblemAsync(await alice.GetAsync("/v1/scale"), HttpStatusCode.Forbidden);
        using HttpClient autoscaler = service.Http("autoscaler");
        JsonObject scale = JsonNode.Parse(await autoscaler.GetStringAsync("/v1/scale"))!.AsObject();
        Assert.Equal(2, scale["activeSilos"]!.GetValue<int>());
        Assert.True(scale["compressionSlots"]!.GetValue<int>() >= 2);
        Assert.Equal(["queuedJobs", "runningJobs", "slicesPending", "activeSilos", "compressionSlots", "maxRunningJobs"], scale.Select(p => p.Key));
        await ProblemAsync(await autoscaler.GetAsync("/v1/jobs"), HttpStatusCode.Forbidden); // in no tenant
    }

    [Fact]
    public void Settings_that_could_only_fail_later_refuse_to_start_one_line_each()
    {
        string badTenants = service.Dir.File("bad-tenants.json");
        File.WriteAllText(badTenants, """
            {"claim": "sub", "tenants": {"a": {"subjects": ["x"], "images": ["relative/dir"]}, "b": {"subjects": ["x"], "identities": ["../up"]}}}
            """);
        string notAKey = service.Dir.File("not-a-key.pem");
        File.WriteAllText(notAKey, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
        (string[] Flags, string[] Expected)[] cases =
        [
            (["--jwt-audience", "a", "--tenants", badTenants], ["exactly one of --jwt-authority", "--redis"]),
            (["--redis", service.Redis, "--jwt-key-file", service.Tokens.PublicKeyPath, "--jwt-issuer", "i", "--jwt-audience", "a", "--tenants", badTenants],
                ["'relative/dir' is neither", "subject 'x' already belongs to tenant 'a'", "identity '../up' is not a name"]),
            (["--redis", service.Redis, "--jwt-key-file", notAKey, "--jwt-issuer", "i", "--jwt-audience", "a", "--tenants", service.TenantsFile],
                ["holds no RSA or EC P-256 public key"]),
        ];
        foreach ((string[] flags, string[] expected) in cases)
        {
            ExternalTool.Result run = ExternalTool.Run("dotnet", [RepositoryPaths.ApiDll, "--urls", "http://127.0.0.1:1", .. flags], timeout: TimeSpan.FromSeconds(60));
            Assert.Equal(1, run.ExitCode);
            string[] lines = run.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.All(lines, line => Assert.StartsWith("bundle-api: error: ", line));
            Assert.All(expected, text => Assert.Contains(lines, line => line.Contains(text, StringComparison.Ordinal)));
        }
    }

    [Fact]
    public async Task Bundlectl_token_mints_a_development_token_the_service_accepts()
    {
        string key = service.Tokens.WritePrivateKey(service.Dir.File("dev-jwt-pk.pem"));
        using BundleCtlProcess mint = BundleCtlProcess.Start("token", "--key", key, "--subject", "alice",
            "--issuer", TestTokens.Issuer, "--audience", TestTokens.Audience, "--minutes", "5");
        Assert.Equal(0, await mint.WaitAsync(TimeSpan.FromSeconds(60)));
        string token = mint.StdOut.Trim();
        using var http = new HttpClient { BaseAddress = service.Api.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/jobs")).StatusCode);

        using BundleCtlProcess bad = BundleCtlProcess.Start("token", "--key", service.Tokens.PublicKeyPath, "--subject", "alice");
        Assert.NotEqual(0, await bad.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal("bundlectl: error: '" + service.Tokens.PublicKeyPath + "' holds no RSA or EC P-256 private key (PEM)", bad.StdErr.Trim());
    }

    [Fact]
    public async Task Bundlectl_through_the_service_bundles_lists_shows_and_follows_jobs_as_with_the_cluster()
    {
        string image = Image("cli.img");
        string destination = Directory.CreateDirectory(Path.Combine(service.OutA, "cli")).FullName;
        var environment = new Dictionary<string, string>
        {
            ["BUNDLECLUSTER_SERVICE"] = service.Api.BaseAddress.ToString(),
            ["BUNDLECLUSTER_TOKEN"] = service.Tokens.For("alice"),
        };
        async Task<BundleCtlProcess> RunAsync(params string[] args)
        {
            BundleCtlProcess run = BundleCtlProcess.Start(environment, args);
            int exit = await run.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.True(exit == 0, $"bundlectl {string.Join(' ', args)}: exit {exit}; {run.StdErr}");
            return run;
        }

        using BundleCtlProcess bundled = await RunAsync("bundle-image", "-i", image, "-d", destination, "-u", "123456789012", "--identity", "dev",
            "--idempotency-key", "cli-1");
        Assert.Contains(Path.Combine(destination, "cli.img.manifest.xml"), bundled.StdOut);
        string restored = ClassicPipeline.Restore(service.Dir.Path, Path.Combine(destination, "cli.img.manifest.xml"), TestIdentity.User(service.Dir.Path));
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "cli.img")));

        // The same key again: the same job, answered at once (--no-wait prints its id).
        using BundleCtlProcess again = await RunAsync("bundle-image", "-i", image, "-d", destination, "-u", "123456789012", "--identity", "dev",
            "--idempotency-key", "cli-1", "--no-wait");
        string jobId = again.StdOut.Trim();
        using BundleCtlProcess status = await RunAsync("status", jobId, "--json");
        JsonObject json = JsonNode.Parse(status.StdOut)!.AsObject();
        Assert.Equal(("Completed", jobId), (json["state"]!.GetValue<string>(), json["jobId"]!.GetValue<string>()));
        using BundleCtlProcess jobs = await RunAsync("jobs");
        Assert.Contains($"{jobId}  Completed", jobs.StdOut);
        using BundleCtlProcess watch = await RunAsync("watch", jobId);
        Assert.Contains($"{jobId}: Completed cli.img 100% sealed", watch.StdOut);

        // Key flags do not go with the service, and another tenant's job is unknown.
        using BundleCtlProcess keys = BundleCtlProcess.Start(environment, "bundle-image", "-i", image, "-d", destination, "-u", "123456789012",
            "--identity", "dev", "-k", "/etc/passwd");
        Assert.Equal(1, await keys.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains("--privatekey does not go with --service", keys.StdErr);
        environment["BUNDLECLUSTER_TOKEN"] = service.Tokens.For("bob");
        using BundleCtlProcess foreign = BundleCtlProcess.Start(environment, "status", jobId);
        Assert.NotEqual(0, await foreign.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains($"no bundle job has id '{jobId}'", foreign.StdErr);
    }

    [Fact]
    public async Task The_SDKs_service_client_submits_follows_and_throws_the_same_typed_exceptions_as_the_cluster_client()
    {
        string image = Image("sdk.img");
        string destination = Directory.CreateDirectory(Path.Combine(service.OutA, "sdk")).FullName;
        var services = new ServiceCollection();
        services.AddBundleServiceClient(o => (o.Url, o.Token) = (service.Api.BaseAddress, service.Tokens.For("alice")));
        await using ServiceProvider provider = services.BuildServiceProvider();
        BundleServiceClient client = provider.GetRequiredService<BundleServiceClient>();
        var request = new ServiceJobRequest { Image = image, Destination = destination, Account = "123456789012", Identity = "dev", Labels = new() { ["via"] = "sdk" } };

        string jobId = await client.SubmitAsync(request, "sdk-1");
        var seen = new List<BundleJobStatus>();
        BundleJobStatus done = await client.WaitAsync(jobId, new Progress<BundleJobStatus>(seen.Add)).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(BundleJobState.Completed, done.State);
        Assert.Equal("sdk", done.Labels!["via"]);
        Assert.Equal(Path.Combine(destination, "sdk.img.manifest.xml"), done.ManifestPath);
        Assert.Contains(await client.ListJobsAsync(label: "via=sdk"), s => s.JobId == jobId);
        BundleJobValidationException invalid = await Assert.ThrowsAsync<BundleJobValidationException>(
            () => client.SubmitAsync(request with { Level = 12 }));
        Assert.Equal("level", invalid.Field);
        Assert.Equal("Idempotency-Key", (await Assert.ThrowsAsync<BundleJobValidationException>(
            () => client.SubmitAsync(request with { Level = 9 }, "sdk-1"))).Field);
        var bob = BundleServiceClient.Create(new BundleServiceOptions { Url = service.Api.BaseAddress, Token = service.Tokens.For("bob") });
        await Assert.ThrowsAsync<UnknownBundleJobException>(() => bob.GetStatusAsync(jobId));
        var anonymous = BundleServiceClient.Create(new BundleServiceOptions { Url = service.Api.BaseAddress });
        BundleServiceAccessException refused = await Assert.ThrowsAsync<BundleServiceAccessException>(() => anonymous.ListJobsAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        var nowhere = BundleServiceClient.Create(new BundleServiceOptions { Url = new Uri("http://127.0.0.1:1"), Token = "x" });
        await Assert.ThrowsAsync<ClusterUnreachableException>(() => nowhere.GetStatusAsync(jobId));
    }

    /// <summary>
    /// 200 submissions from 20 concurrent clients, each with its own idempotency key: every job completes exactly once.
    /// Prints the submit latencies and the throughput (bench/api-load.sh runs this test alone and reports them).
    /// </summary>
    [Fact]
    public async Task Two_hundred_jobs_from_twenty_concurrent_clients_all_complete_exactly_once()
    {
        const int Clients = 20, JobsPerClient = 10;
        string run = Guid.NewGuid().ToString("N")[..8];
        string[] images = [.. Enumerable.Range(0, 20).Select(i => Image($"load-{run}-{i}.img", 64 * 1024 + i * 4096))];
        var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
        var submitted = new System.Collections.Concurrent.ConcurrentDictionary<string, string>(); // key -> location
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(async c =>
        {
            using HttpClient http = service.Http();
            for (int i = 0; i < JobsPerClient; i++)
            {
                string key = $"load-{run}-{c}-{i}";
                string destination = Directory.CreateDirectory(Path.Combine(service.OutA, key)).FullName;
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = Json(Job(images[(c + i) % images.Length], destination)) };
                request.Headers.Add("Idempotency-Key", key);
                var one = System.Diagnostics.Stopwatch.StartNew();
                using HttpResponseMessage response = await http.SendAsync(request);
                latencies.Add(one.Elapsed.TotalMilliseconds);
                Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
                Assert.True(submitted.TryAdd(key, response.Headers.Location!.OriginalString));
            }
        }));
        TimeSpan submitting = clock.Elapsed;

        using HttpClient watcher = service.Http();
        var finished = new Dictionary<string, JsonObject>();
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        while (finished.Count < submitted.Count)
        {
            foreach ((string key, string location) in submitted.Where(kv => !finished.ContainsKey(kv.Key)))
            {
                JsonObject job = JsonNode.Parse(await watcher.GetStringAsync(location, bound.Token))!.AsObject();
                if (job["state"]!.GetValue<string>() is "Completed" or "Failed" or "Cancelled")
                {
                    finished[key] = job;
                }
            }

            await Task.Delay(250, bound.Token);
        }

        TimeSpan total = clock.Elapsed;
        Assert.Equal(Clients * JobsPerClient, submitted.Values.Distinct().Count()); // no two keys share a job
        Assert.All(finished.Values, job => Assert.Equal("Completed", job["state"]!.GetValue<string>()));
        // Exactly once: each destination holds one manifest and its parts, nothing else (no second run, no staging).
        Assert.All(submitted.Keys, key =>
        {
            string[] files = Directory.GetFileSystemEntries(Path.Combine(service.OutA, key)).Select(Path.GetFileName).ToArray()!;
            Assert.Single(files, f => f.EndsWith(".manifest.xml", StringComparison.Ordinal));
            Assert.All(files, f => Assert.Matches(@"^load-[0-9a-f]{8}-\d+\.img\.(manifest\.xml|manifest\.xml\.index|part\.\d+)$", f));
        });
        double[] sorted = [.. latencies.Order()];
        output.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"api-load: {submitted.Count} jobs from {Clients} clients; submit p50 {sorted[sorted.Length / 2]:0.0} ms, p99 {sorted[(int)(sorted.Length * 0.99)]:0.0} ms, max {sorted[^1]:0.0} ms; submitted in {submitting.TotalSeconds:0.00} s ({submitted.Count / submitting.TotalSeconds:0} jobs/s); all completed in {total.TotalSeconds:0.00} s ({submitted.Count / total.TotalSeconds:0.0} jobs/s)"));
    }

    [Fact]
    public async Task The_Orleans_dashboard_is_for_operators_only()
    {
        using HttpClient ops = service.Http("ops");
        HttpResponseMessage page = await ops.GetAsync("/admin/orleans/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        HttpResponseMessage data = await ops.GetAsync("/admin/orleans/DashboardCounters");
        Assert.True(data.StatusCode == HttpStatusCode.OK, await data.Content.ReadAsStringAsync());
        Assert.Contains("\"totalActiveHostCount\":2", (await data.Content.ReadAsStringAsync()).Replace(" ", "", StringComparison.Ordinal));

        using HttpClient alice = service.Http();
        await ProblemAsync(await alice.GetAsync("/admin/orleans/"), HttpStatusCode.Forbidden);
        using HttpClient anonymous = service.Http(subject: null);
        await ProblemAsync(await anonymous.GetAsync("/admin/orleans/DashboardCounters"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task An_OpenID_Connect_authority_gives_the_keys_through_its_discovery_document()
    {
        await using OidcTestAuthority authority = await OidcTestAuthority.StartAsync();
        using var api = new ApiProcess(service.Redis, service.ClusterId, ["--jwt-authority", authority.Issuer,
            "--jwt-audience", TestTokens.Audience, "--tenants", service.TenantsFile]);
        await api.WaitReadyAsync();
        using var http = new HttpClient { BaseAddress = api.BaseAddress };

        using var good = new HttpRequestMessage(HttpMethod.Get, "/v1/jobs");
        good.Headers.Authorization = new AuthenticationHeaderValue("Bearer", authority.TokenFor("alice", TestTokens.Audience));
        HttpResponseMessage answered = await http.SendAsync(good);
        Assert.True(answered.StatusCode == HttpStatusCode.OK, await answered.Content.ReadAsStringAsync());
        using var foreign = new HttpRequestMessage(HttpMethod.Get, "/v1/jobs");
        foreign.Headers.Authorization = new AuthenticationHeaderValue("Bearer", service.Tokens.For("alice", issuer: authority.Issuer));
        Assert.Contains("signature", (await ProblemAsync(await http.SendAsync(foreign), HttpStatusCode.Unauthorized))["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_tenant_limited_to_one_running_job_waits_in_the_queue_and_a_cancelled_waiting_job_leaves_nothing()
    {
        string busy = ClusterJobs.BusyImage(Path.Combine(service.ImagesA, "carol-busy.img"), 150_000_000, seed: 80);
        using HttpClient carol = service.Http("carol");
        async Task<string> SubmitAsync(string image, string name, int? level = null)
        {
            HttpResponseMessage response = await carol.PostAsync("/v1/jobs",
                Json(Job(image, Directory.CreateDirectory(Path.Combine(service.OutA, name)).FullName, level: level)));
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
            return response.Headers.Location!.OriginalString;
        }

        async Task<JsonObject> GetAsync(string location) => JsonNode.Parse(await carol.GetStringAsync(location))!.AsObject();

        string first = await SubmitAsync(busy, "carol-1", level: 9);
        string second = await SubmitAsync(Image("carol-2.img"), "carol-2");
        string third = await SubmitAsync(Image("carol-3.img"), "carol-3");

        Assert.Equal("Running", (await GetAsync(first))["state"]!.GetValue<string>());
        JsonObject waiting = await GetAsync(second);
        Assert.Equal(("Queued", 1), (waiting["state"]!.GetValue<string>(), waiting["queuePosition"]!.GetValue<int>()));
        Assert.Equal(2, (await GetAsync(third))["queuePosition"]!.GetValue<int>());
        JsonObject cancelled = JsonNode.Parse(await (await carol.PostAsync(third + ":cancel", null)).Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal("Cancelled", cancelled["state"]!.GetValue<string>());

        List<(string Event, string Id, JsonObject Data)> events = await ReadEventsAsync(carol, second).WaitAsync(TimeSpan.FromMinutes(3));
        Assert.Contains(events, e => e.Data["state"]!.GetValue<string>() == "Queued");
        JsonObject done = events[^1].Data;
        Assert.Equal("Completed", done["state"]!.GetValue<string>());
        JsonObject firstDone = await GetAsync(first);
        Assert.Equal("Completed", firstDone["state"]!.GetValue<string>());
        Assert.True(done["startedAt"]!.GetValue<DateTimeOffset>() >= firstDone["finishedAt"]!.GetValue<DateTimeOffset>(),
            "the second job started only when the first had finished");
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(service.OutA, "carol-3")));
    }

    [Fact]
    public async Task An_ES256_key_file_works_like_an_RS256_one_and_refuses_RS256_tokens_of_another_key()
    {
        using TestTokens ec = TestTokens.EcdsaP256(service.Dir.Sub("ec"));
        using var api = new ApiProcess(service.Redis, service.ClusterId, ["--jwt-key-file", ec.PublicKeyPath, "--jwt-issuer", TestTokens.Issuer,
            "--jwt-audience", TestTokens.Audience, "--tenants", service.TenantsFile]);
        await api.WaitReadyAsync();
        using var http = new HttpClient { BaseAddress = api.BaseAddress };

        using var good = new HttpRequestMessage(HttpMethod.Get, "/v1/jobs");
        good.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ec.For("alice"));
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(good)).StatusCode);
        using var rsa = new HttpRequestMessage(HttpMethod.Get, "/v1/jobs");
        rsa.Headers.Authorization = new AuthenticationHeaderValue("Bearer", service.Tokens.For("alice"));
        await ProblemAsync(await http.SendAsync(rsa), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task What_a_tenant_may_not_touch_is_refused_naming_the_field_and_no_file_is_touched()
    {
        string image = Image("mine.img");
        string outside = Image("outside.img", directory: service.Dir.Path);
        string link = Path.Combine(service.ImagesA, "link.img");
        File.CreateSymbolicLink(link, outside);
        string destination = Directory.CreateDirectory(Path.Combine(service.OutA, "refused")).FullName;
        using HttpClient http = service.Http();

        (object Body, HttpStatusCode Status, string Field)[] cases =
        [
            (Job(outside, destination), HttpStatusCode.Forbidden, "image"),
            (Job(Path.Combine(service.ImagesB, "x.img"), destination), HttpStatusCode.Forbidden, "image"),
            (Job(link, destination), HttpStatusCode.Forbidden, "image"),
            (Job(service.ImagesA + "/../outside.img", destination), HttpStatusCode.UnprocessableEntity, "image"),
            (Job(image, service.Dir.Path), HttpStatusCode.Forbidden, "destination"),
            (Job(image, "s3://some-bucket/x"), HttpStatusCode.Forbidden, "destination"),
            (new { image, destination, account = "123456789012", identity = "other" }, HttpStatusCode.Forbidden, "identity"),
            (new { image, destination, account = "123456789012", identity = "../dev" }, HttpStatusCode.Forbidden, "identity"),
        ];
        foreach ((object body, HttpStatusCode status, string field) in cases)
        {
            JsonObject problem = await ProblemAsync(await http.PostAsync("/v1/jobs", Json(body)), status);
            Assert.Equal(field, problem["field"]!.GetValue<string>());
        }

        Assert.Empty(Directory.GetFileSystemEntries(destination));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(service.Dir.Path, "*.manifest.xml", SearchOption.AllDirectories),
            m => m.Contains("refused", StringComparison.Ordinal) || m.Contains("outside", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Another_tenants_job_is_404_to_read_to_cancel_and_to_follow()
    {
        string image = Image("private.img");
        using HttpClient alice = service.Http();
        HttpResponseMessage submitted = await alice.PostAsync("/v1/jobs", Json(Job(image, Directory.CreateDirectory(Path.Combine(service.OutA, "private")).FullName)));
        string location = submitted.Headers.Location!.OriginalString;
        using HttpClient bob = service.Http("bob");

        await ProblemAsync(await bob.GetAsync(location), HttpStatusCode.NotFound);
        await ProblemAsync(await bob.PostAsync(location + ":cancel", null), HttpStatusCode.NotFound);
        await ProblemAsync(await bob.GetAsync(location + "/events"), HttpStatusCode.NotFound);
        await ProblemAsync(await bob.GetAsync("/v1/jobs/0123456789abcdef0123456789abcdef"), HttpStatusCode.NotFound);
        await ProblemAsync(await bob.GetAsync("/v1/jobs/..%2F..%2Fetc"), HttpStatusCode.NotFound);
        Assert.NotEqual("Cancelled", JsonNode.Parse(await alice.GetStringAsync(location))!["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Bad_bodies_are_400_problems_naming_the_field_and_queue_nothing()
    {
        string image = Image("bad.img");
        using HttpClient http = service.Http("bob"); // bob's list stays small, so "nothing queued" is easy to see
        int before = JsonNode.Parse(await http.GetStringAsync("/v1/jobs?limit=100"))!["jobs"]!.AsArray().Count;
        string valid = JsonSerializer.Serialize(Job(image));
        (string Body, string Field)[] cases =
        [
            ("{\"image\": ", "body"),
            ("[1, 2]", "body"),
            (valid.Replace("\"account\":\"123456789012\"", "\"account\":123456789012", StringComparison.Ordinal), "account"),
            (valid.Replace("{", "{\"level\":\"9\",", StringComparison.Ordinal), "level"),
            (valid.Replace("{", "{\"privateKeyPath\":\"/etc/shadow\",", StringComparison.Ordinal), "privateKeyPath"),
            (valid.Replace("\"identity\":\"dev\"", "\"identity\":null", StringComparison.Ordinal), "identity"),
            ("{\"destination\":\"/x\",\"account\":\"123456789012\",\"identity\":\"dev\"}", "image"),
            ("{\"image\":\"" + new string('x', 10_000_000) + "\"}", "body"),
        ];
        foreach ((string body, string field) in cases)
        {
            JsonObject problem = await ProblemAsync(
                await http.PostAsync("/v1/jobs", new StringContent(body, Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);
            Assert.Equal(field, problem["field"]!.GetValue<string>());
        }

        Assert.Equal(before, JsonNode.Parse(await http.GetStringAsync("/v1/jobs?limit=100"))!["jobs"]!.AsArray().Count);
    }

    [Fact]
    public async Task The_OpenAPI_document_describes_every_endpoint_and_no_log_line_holds_a_token_or_a_key()
    {
        using HttpClient http = service.Http();
        JsonObject document = JsonNode.Parse(await http.GetStringAsync("/openapi/v1.json"))!.AsObject();

        Assert.StartsWith("3.", document["openapi"]!.GetValue<string>());
        Microsoft.OpenApi.Reader.ReadResult parsed = Microsoft.OpenApi.OpenApiDocument.Parse(document.ToJsonString(), "json");
        Assert.Empty(parsed.Diagnostic!.Errors);
        Assert.Equal(11, parsed.Document!.Paths.Count);
        JsonObject paths = document["paths"]!.AsObject();
        Assert.Equal(["/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/events", "/v1/jobs/{id}:cancel", "/v1/scale",
                "/v1/series", "/v1/series/{name}", "/v1/series/{name}/runs", "/v1/series/{name}/runs/{date}", "/v1/series/{name}:pause", "/v1/series/{name}:resume"],
            paths.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.NotNull(paths["/v1/jobs"]!["post"]!["requestBody"]);
        Assert.NotNull(paths["/v1/jobs"]!["get"]);
        Assert.NotNull(paths["/v1/jobs/{id}:cancel"]!["post"]);
        Assert.NotNull(paths["/v1/series/{name}"]!["put"]!["requestBody"]);
        Assert.NotNull(paths["/v1/series/{name}/runs"]!["post"]!["requestBody"]);

        // Whatever ran before in this class: no token and no private key ever reached a log.
        string logs = service.AllLogs;
        Assert.DoesNotContain("eyJ", logs, StringComparison.Ordinal); // the start of every JWT
        Assert.DoesNotContain("PRIVATE KEY", logs, StringComparison.Ordinal);
        Assert.DoesNotContain(File.ReadAllText(TestIdentity.User(service.Dir.Path).PrivateKeyPath).Split('\n')[1], logs, StringComparison.Ordinal);
    }
}
