using System.Net;
using BundleCluster.Hosting;
using BundleCluster.TestSupport;

namespace BundleCluster.Deploy.Tests;

/// <summary>
/// The image deploy/docker/build-local.sh built (scripts/test.sh runs it first, the way a machine without a registry
/// builds it), run for real with docker run, its port published on 127.0.0.1 only.
/// </summary>
[Trait("Tier", "Exclusive")] // a Docker engine: run alone, after the rest
public sealed class ContainerImageTests : IDisposable
{
    public const string Image = "bundlecluster/bundlecluster:local";
    private readonly TempDirectory _dir = new("image");
    private readonly string _container = "bctest-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task The_image_runs_as_a_non_root_user_answers_health_on_loopback_and_its_HEALTHCHECK_turns_healthy()
    {
        string secrets = _dir.Sub("secrets");
        Commands.Run("bash", [Path.Combine(RepositoryPaths.Root, "deploy", "docker", "dev-secrets.sh"), secrets]);
        int port = RedisServer.FreePort();
        // bundle-api needs no cluster to be alive (it keeps connecting to an absent Redis): the image alone is tested.
        Commands.Run("docker", ["run", "-d", "--name", _container, "-p", $"127.0.0.1:{port}:8080", "-v", $"{secrets}:/run/bundlecluster:ro",
            Image, "bundle-api", "--redis", "127.0.0.1:1", "--urls", "http://0.0.0.0:8080", "--tenants", "/run/bundlecluster/tenants.json",
            "--jwt-key-file", "/run/bundlecluster/jwt-pub.pem", "--jwt-issuer", "bundlecluster-dev", "--jwt-audience", "bundle-api"]);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        HttpStatusCode? live = null;
        for (DateTime until = DateTime.UtcNow.AddSeconds(60); live != HttpStatusCode.OK && DateTime.UtcNow < until; await Task.Delay(250))
        {
            try
            {
                live = (await http.GetAsync($"http://127.0.0.1:{port}{HealthEndpoints.LivePath}")).StatusCode;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
        }

        Assert.True(live == HttpStatusCode.OK, "no answer on /health/live:\n" + Commands.Run("docker", ["logs", _container]));
        Assert.Equal("10001", Commands.Run("docker", ["exec", _container, "id", "-u"]).Trim());
        Assert.Equal($"8080/tcp -> 127.0.0.1:{port}", Commands.Run("docker", ["port", _container]).Trim());
        string health = "";
        for (DateTime until = DateTime.UtcNow.AddSeconds(60); health != "healthy" && DateTime.UtcNow < until; await Task.Delay(1000))
        {
            health = Commands.Run("docker", ["inspect", "-f", "{{.State.Health.Status}}", _container]).Trim();
        }

        Assert.Equal("healthy", health);
    }

    [Fact]
    public void The_image_carries_its_labels_and_no_key_or_secret()
    {
        Assert.Equal("10001:10001", Commands.Run("docker", ["image", "inspect", "-f", "{{.Config.User}}", Image]).Trim());
        string labels = Commands.Run("docker", ["image", "inspect", "-f", "{{json .Config.Labels}}", Image]);
        Assert.Contains("\"org.opencontainers.image.title\":\"BundleCluster\"", labels, StringComparison.Ordinal);
        Assert.Contains("\"org.opencontainers.image.version\":", labels, StringComparison.Ordinal);
        Assert.Contains("bundle-healthcheck", Commands.Run("docker", ["image", "inspect", "-f", "{{json .Config.Healthcheck}}", Image]), StringComparison.Ordinal);
        // Nothing that looks like a private key or a credential in our layer of the image.
        string found = Commands.Run("docker", ["run", "--rm", Image, "sh", "-c",
            "grep -rlE 'PRIVATE KEY|AWS_SECRET_ACCESS_KEY=' /opt/bundlecluster /usr/local/bin || true"]);
        Assert.Equal("", found.Trim());
        // The three programs are on the PATH and start.
        Assert.Contains("bundle-image", Commands.Run("docker", ["run", "--rm", Image, "bundlectl", "--help"]), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Commands.Run("docker", ["rm", "-f", _container]);
        }
        catch (Xunit.Sdk.XunitException)
        {
            // never started
        }

        _dir.Dispose();
    }
}
