using Amazon.S3;
using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests;

/// <summary>What bundle-image sends to S3, observed on the wire through a fault-injecting proxy.</summary>
[Trait("Tier", "Slow")] // an S3 test server (Node) behind a fault-injecting proxy
public sealed class S3WireTests : IClassFixture<S3DestinationTests.Server>, IAsyncLifetime
{
    private readonly S3DestinationTests.Server _server;
    private readonly TempDirectory _dir = new("s3-wire");
    private readonly TestIdentity _user;
    private readonly string _bucket = "wire-" + Guid.NewGuid().ToString("N")[..8];
    private FaultInjectingS3Proxy _proxy = null!;

    public S3WireTests(S3DestinationTests.Server server)
    {
        _server = server;
        _user = TestIdentity.User(_dir.Path);
    }

    public async Task InitializeAsync()
    {
        using AmazonS3Client s3 = _server.Client;
        await s3.PutBucketAsync(_bucket);
        _proxy = new FaultInjectingS3Proxy(_server.S3.EndpointUrl);
    }

    private async Task<(BundleCtlRunner.Outcome Run, string Image)> BundleThroughProxyAsync(int seed, params string[] extra)
    {
        byte[] data = new byte[32_000_000]; // incompressible: four parts
        new Random(seed).NextBytes(data);
        string image = _dir.File($"wire{seed}.img");
        File.WriteAllBytes(image, data);
        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync([
            "bundle-image", "-i", image, "-c", _user.CertificatePath, "-k", _user.PrivateKeyPath, "-u", "123456789012",
            "-d", $"s3://{_bucket}/out{seed}", "--ec2cert", _user.CertificatePath, "--endpoint-url", _proxy.EndpointUrl, .. extra]);
        return (run, image);
    }

    [Fact]
    public async Task Every_put_carries_content_md5_parts_get_the_acl_and_the_manifest_is_written_last()
    {
        (BundleCtlRunner.Outcome run, _) = await BundleThroughProxyAsync(91);

        Assert.True(run.ExitCode == 0, run.StdErr);
        var writes = _proxy.Requests.Where(r => r.Method == "PUT" && r.Status == 200 && r.Path.Contains("/out91/", StringComparison.Ordinal)).ToList();
        Assert.All(writes.Where(w => w.CopySource is null), w => Assert.False(string.IsNullOrEmpty(w.ContentMd5), $"{w.Path} without Content-MD5"));
        var finals = writes.Where(w => !w.Path.Contains("/.bundlecluster-", StringComparison.Ordinal)).ToList();
        Assert.Equal(6, finals.Count); // four parts, the slice index and the manifest
        Assert.All(finals, w => Assert.Equal("aws-exec-read", w.Acl));
        Assert.EndsWith("/out91/wire91.img.manifest.xml", finals[^1].Path);
        Assert.EndsWith("/out91/wire91.img.manifest.xml.index", finals[^2].Path); // after the parts, before the manifest
        Assert.All(finals.SkipLast(2), w => Assert.Matches(@"/wire91\.img\.part\.\d$", w.Path));
    }

    [Fact]
    public async Task With_ten_percent_of_requests_failing_a_multi_part_bundle_still_completes_and_restores()
    {
        _proxy.FailureRate = 0.10;

        (BundleCtlRunner.Outcome run, string image) = await BundleThroughProxyAsync(92, "--retry", "8");

        Assert.True(run.ExitCode == 0, run.StdErr);
        Assert.Contains(_proxy.Requests, r => r.Status is 503 or -1); // faults really happened
        _proxy.FailureRate = 0;
        string downloaded = _dir.Sub("downloaded");
        BundleCtlRunner.Outcome download = await BundleCtlRunner.RunAsync("download-bundle", "-b", $"{_bucket}/out92", "-p", "wire92.img",
            "-d", downloaded, "--endpoint-url", _proxy.EndpointUrl);
        Assert.True(download.ExitCode == 0, download.StdErr);
        string restored = ClassicPipeline.Restore(_dir.Path, Path.Combine(downloaded, "wire92.img.manifest.xml"), _user);
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "wire92.img")));
    }

    [Fact]
    public async Task With_the_server_gone_mid_job_the_job_fails_cleanly_without_a_manifest()
    {
        Task<(BundleCtlRunner.Outcome Run, string Image)> job = BundleThroughProxyAsync(93, "--retry", "1");
        while (!_proxy.Requests.Any(r => r.Path.Contains("/out93/.bundlecluster-", StringComparison.Ordinal) && r.Path.EndsWith("/part.0", StringComparison.Ordinal)))
        {
            await Task.Delay(20);
        }

        _proxy.ServerGone = true;
        (BundleCtlRunner.Outcome run, _) = await job;

        Assert.Equal(254, run.ExitCode);
        Assert.Single(run.ErrorLines);
        Assert.DoesNotContain(_proxy.Requests, r => r.Method == "PUT" && r.Status == 200 && r.Path.EndsWith(".manifest.xml", StringComparison.Ordinal));
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        _dir.Dispose();
    }
}
