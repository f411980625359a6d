using Amazon.S3;
using Amazon.S3.Model;
using BundleCluster.Storage.S3;
using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests;

/// <summary>bundle-image straight into a bucket of a real S3-compatible server over HTTP.</summary>
[Trait("Tier", "Slow")] // an S3 test server (Node)
public sealed class S3DestinationTests : IClassFixture<S3DestinationTests.Server>, IDisposable
{
    private readonly Server _server;
    private readonly TempDirectory _dir = new("s3-dest");
    private readonly TestIdentity _user;

    public S3DestinationTests(Server server)
    {
        _server = server;
        _user = TestIdentity.User(_dir.Path);
    }

    public sealed class Server : IDisposable
    {
        public S3TestServer S3 { get; } = new();

        public AmazonS3Client Client => new S3Settings(S3.EndpointUrl).CreateClient();

        public void Dispose() => S3.Dispose();
    }

    private string[] Args(string image, string destination) =>
    [
        "bundle-image", "-i", image, "-c", _user.CertificatePath, "-k", _user.PrivateKeyPath, "-u", "123456789012",
        "-d", destination, "--ec2cert", TestIdentity.Cloud(_dir.Path).CertificatePath, "--endpoint-url", _server.S3.EndpointUrl,
    ];

    [Fact]
    public async Task A_bundle_written_to_s3_downloads_and_restores_byte_identical_with_the_real_tools()
    {
        using AmazonS3Client s3 = _server.Client;
        await s3.PutBucketAsync("bundles");
        string image = TestImages.Create(_dir.File("disk.img"), 24_000_000, seed: 61, withHoles: true);

        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync(Args(image, "s3://bundles/nightly/2026-11-26"));

        Assert.True(run.ExitCode == 0, run.StdErr);
        Assert.Contains("s3://bundles/nightly/2026-11-26/disk.img.manifest.xml", run.StdOut);
        ListObjectsV2Response listing = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "bundles", Prefix = "nightly/" });
        string[] keys = listing.S3Objects.Select(o => o.Key).Order(StringComparer.Ordinal).ToArray();
        Assert.Contains("nightly/2026-11-26/disk.img.manifest.xml", keys);
        Assert.All(keys, k => Assert.Matches(@"^nightly/2026-11-26/disk\.img\.(manifest\.xml|manifest\.xml\.index|part\.\d+)$", k)); // no staging left
        string local = _dir.Sub("downloaded");
        foreach (string key in keys)
        {
            using GetObjectResponse body = await s3.GetObjectAsync("bundles", key);
            await body.WriteResponseStreamToFileAsync(Path.Combine(local, Path.GetFileName(key)), false, CancellationToken.None);
        }

        string restored = ClassicPipeline.Restore(_dir.Path, Path.Combine(local, "disk.img.manifest.xml"), _user);
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "disk.img")));
    }

    [Fact]
    public async Task Last_nights_bundle_in_s3_is_the_baseline_of_tonights_and_tonights_restores_byte_identical()
    {
        using AmazonS3Client s3 = _server.Client;
        await s3.PutBucketAsync("nightly");
        string image = TestImages.Create(_dir.File("web.img"), 40L << 20, seed: 64);
        BundleCtlRunner.Outcome first = await BundleCtlRunner.RunAsync(Args(image, "s3://nightly/web/2026-12-01"));
        Assert.True(first.ExitCode == 0, first.StdErr);
        TestImages.RewriteBlocks(image, 0.05, 1 << 20, seed: 3);

        BundleCtlRunner.Outcome second = await BundleCtlRunner.RunAsync(
            [.. Args(image, "s3://nightly/web/2026-12-02"), "--baseline", "s3://nightly/web/2026-12-01/web.img.manifest.xml", "--json"]);

        Assert.True(second.ExitCode == 0, second.StdErr);
        Assert.Empty(second.StdErr);
        using System.Text.Json.JsonDocument status = System.Text.Json.JsonDocument.Parse(second.StdOut);
        int reused = status.RootElement.GetProperty("slicesReused").GetInt32();
        int compressed = status.RootElement.GetProperty("slicesCompressed").GetInt32();
        Assert.Equal(11, reused + compressed); // 40 MiB and the tar framing at 4 MiB slices
        Assert.InRange(compressed, 2, 5); // the header slice and the slices the two rewritten MiB fell into
        Assert.True(status.RootElement.GetProperty("baselineBytesRead").GetInt64() > 0);
        string local = _dir.Sub("tonight");
        foreach (S3Object o in (await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "nightly", Prefix = "web/2026-12-02/" })).S3Objects)
        {
            using GetObjectResponse body = await s3.GetObjectAsync("nightly", o.Key);
            await body.WriteResponseStreamToFileAsync(Path.Combine(local, Path.GetFileName(o.Key)), false, CancellationToken.None);
        }

        Assert.True(File.Exists(Path.Combine(local, "web.img.manifest.xml.index")), "tonight's bundle is tomorrow's baseline");
        string restored = ClassicPipeline.Restore(_dir.Path, Path.Combine(local, "web.img.manifest.xml"), _user);
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "web.img")));
    }

    [Fact]
    public async Task A_bucket_that_does_not_exist_is_a_clear_error_before_any_work()
    {
        string image = TestImages.Create(_dir.File("a.img"), 10_000, seed: 62);

        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync(Args(image, "s3://no-such-bucket/x"));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("bucket 'no-such-bucket' does not exist", run.StdErr);
    }

    [Theory]
    [InlineData("s3://", "does not name a valid bucket")]
    [InlineData("s3://Bad_Bucket/x", "does not name a valid bucket")]
    [InlineData("s3://bundles/a//b", "empty path segment")]
    public async Task A_malformed_s3_uri_is_refused(string destination, string expected)
    {
        string image = TestImages.Create(_dir.File("m.img"), 10_000, seed: 63);

        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync(Args(image, destination));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains(expected, run.StdErr);
    }

    public void Dispose() => _dir.Dispose();
}
