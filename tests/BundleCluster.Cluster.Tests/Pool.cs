using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using BundleCluster.Client;
using BundleCluster.TestSupport;

namespace BundleCluster.Cluster.Tests;

/// <summary>
/// One cluster of real processes on a shared redis-server (its own cluster id): bundle-silo processes that hold the
/// signing identity "dev", optionally each under a CPU quota, and bundle-api in front with tenant team-a (subject
/// alice) and the subject "autoscaler", which may read /v1/scale.
/// </summary>
internal sealed class Pool : IDisposable
{
    private readonly string _redis;
    private readonly string _clusterId;
    private readonly string _root;
    private readonly string _allowedRoot;
    private readonly List<SiloProcess> _silos = [];
    private readonly List<CpuQuota> _quotas = [];
    private readonly TestTokens _tokens;
    private ApiProcess? _api;

    public Pool(string redis, TempDirectory dir, string name)
    {
        _redis = redis;
        _clusterId = name + "-" + Guid.NewGuid().ToString("N")[..8];
        _allowedRoot = dir.Path;
        _root = dir.Sub(name);
        Identity = TestIdentity.User(_root);
        string identity = Directory.CreateDirectory(Path.Combine(Identities, "dev")).FullName;
        File.Copy(Identity.CertificatePath, Path.Combine(identity, "cert.pem"));
        File.Copy(Identity.PrivateKeyPath, Path.Combine(identity, "pk.pem"));
        File.Copy(TestIdentity.Cloud(_root).CertificatePath, Path.Combine(identity, "cloud-cert.pem"));
        _tokens = TestTokens.Rsa(_root);
    }

    /// <summary>The user identity the pool's bundles are wrapped to (the identity "dev" is a copy of it).</summary>
    public TestIdentity Identity { get; }

    public int RunningSilos => _silos.Count(s => !s.HasExited);

    /// <summary>The silos still running, oldest first.</summary>
    public IReadOnlyList<SiloProcess> Silos => _silos.Where(s => !s.HasExited).ToList();

    private string Identities => Path.Combine(_root, "identities");

    /// <summary>A destination directory of tenant team-a.</summary>
    public string Out(string name) => Directory.CreateDirectory(Path.Combine(_root, "out", name)).FullName;

    /// <param name="quota">Cores for this silo (a cgroup CPU quota; the silo then runs one compression slot).</param>
    public async Task<SiloProcess> StartSiloAsync(double? quota = null)
    {
        CpuQuota? cgroup = quota is { } cores ? new CpuQuota(cores) : null;
        if (cgroup is not null)
        {
            lock (_quotas)
            {
                _quotas.Add(cgroup);
            }
        }

        var silo = new SiloProcess(_redis, _clusterId, [_allowedRoot], flags: ["--identity-root", Identities],
            environment: cgroup is null ? null : new Dictionary<string, string> { ["DOTNET_PROCESSOR_COUNT"] = "1" }, cpuQuota: cgroup);
        lock (_silos)
        {
            _silos.Add(silo);
        }

        await silo.WaitStartedAsync();
        return silo;
    }

    public void StartApi()
    {
        string tenants = Path.Combine(_root, "tenants.json");
        File.WriteAllText(tenants, $$$"""
            {"claim": "sub",
             "tenants": {"team-a": {"subjects": ["alice"], "images": ["{{{_allowedRoot}}}/images"], "destinations": ["{{{_root}}}/out"], "identities": ["dev"]}},
             "scaleReaders": ["autoscaler"]}
            """);
        _api = new ApiProcess(_redis, _clusterId, ["--jwt-key-file", _tokens.PublicKeyPath, "--jwt-issuer", TestTokens.Issuer,
            "--jwt-audience", TestTokens.Audience, "--tenants", tenants]);
    }

    public Task<ConnectedBundleCluster> ConnectAsync() => BundleClusterConnection.ConnectAsync(new BundleClusterConnectionOptions
    {
        Redis = _redis,
        ClusterId = _clusterId,
        ServiceId = _clusterId,
    });

    /// <summary>A plain HTTP client of bundle-api with <paramref name="subject"/>'s token.</summary>
    public HttpClient Http(string subject)
    {
        var http = new HttpClient { BaseAddress = _api!.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _tokens.For(subject));
        return http;
    }

    /// <summary>Waits until bundle-api reaches the cluster (its readiness).</summary>
    public Task WaitReadyAsync() => _api!.WaitReadyAsync();

    /// <summary>The lines of every silo's log (running or not) that speak of jobs: resumes, handovers, checkpoints.</summary>
    public IEnumerable<string> JobLogLines() =>
        _silos.SelectMany(s => s.Log.Split('\n')).Where(l => l.Contains("Job ", StringComparison.Ordinal) || l.Contains("checkpoint", StringComparison.Ordinal));

    /// <summary>Waits until bundle-api listens (its liveness; the cluster may have no silo).</summary>
    public async Task WaitListeningAsync()
    {
        using var http = new HttpClient { BaseAddress = _api!.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
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

        throw new Xunit.Sdk.XunitException($"bundle-api did not start:\n{_api.Log}");
    }

    public static async Task<HttpResponseMessage> SubmitAsync(HttpClient http, string body, string idempotencyKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        return await http.SendAsync(request);
    }

    /// <summary>Polls a job until it has ended; fails with its last state after <paramref name="within"/>.</summary>
    public static async Task<JsonObject> WaitFinishedAsync(HttpClient http, string location, TimeSpan within)
    {
        JsonObject? job = null;
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < within; await Task.Delay(250))
        {
            try
            {
                job = JsonNode.Parse(await http.GetStringAsync(location))!.AsObject();
            }
            catch (HttpRequestException ex) when (ex.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                continue; // the cluster is changing under it
            }

            if ((string)job["state"]! is "Completed" or "Failed" or "Cancelled")
            {
                return job;
            }
        }

        throw new Xunit.Sdk.XunitException($"{location} did not finish within {within.TotalSeconds} s: {job?.ToJsonString()}");
    }

    public void Dispose()
    {
        _api?.Dispose();
        foreach (SiloProcess silo in _silos)
        {
            silo.Dispose();
        }

        foreach (CpuQuota quota in _quotas)
        {
            quota.Dispose();
        }

        _tokens.Dispose();
    }
}

/// <summary>The pools of one test class: one redis-server and one directory for all of them, every process reaped.</summary>
internal sealed class PoolSet(string name) : IDisposable
{
    private readonly RedisServer _redis = new();
    private readonly List<Pool> _pools = [];

    public TempDirectory Dir { get; } = new(name);

    public Pool New(string name)
    {
        var pool = new Pool(_redis.Address, Dir, name);
        _pools.Add(pool);
        return pool;
    }

    public void Dispose()
    {
        foreach (Pool pool in _pools)
        {
            pool.Dispose();
        }

        _redis.Dispose();
        Dir.Dispose();
    }
}
