using Amazon.S3;
using Amazon.S3.Model;
using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests;

/// <summary>upload-bundle / download-bundle / delete-bundle and unbundle -s s3:// against a real S3-compatible server.</summary>
[Trait("Tier", "Slow")] // an S3 test server (Node)
public sealed class S3BundleCommandTests : IClassFixture<S3DestinationTests.Server>, IDisposable
{
    private readonly S3DestinationTests.Server _server;
    private readonly TempDirectory _dir = new("s3-parity");
    private readonly TestIdentity _user;
    private readonly string _bucket = "parity-" + Guid.NewGuid().ToString("N")[..8];

    public S3BundleCommandTests(S3DestinationTests.Server server)
    {
        _server = server;
        _user = TestIdentity.User(_dir.Path);
    }

    private string[] Endpoint => ["--endpoint-url", _server.S3.EndpointUrl];

    [Fact]
    public async Task A_classic_bundle_uploads_resumes_downloads_restores_and_deletes()
    {
        using AmazonS3Client s3 = _server.Client;
        await s3.PutBucketAsync(_bucket);
        byte[] random = new byte[25_000_000]; // incompressible: three parts
        new Random(71).NextBytes(random);
        string image = _dir.File("classic.img");
        File.WriteAllBytes(image, random);
        string manifest = ClassicPipeline.MakeBundle(_dir.Path, image, _user, TestIdentity.Cloud(_dir.Path));

        BundleCtlRunner.Outcome partsOnly = await BundleCtlRunner.RunAsync(["upload-bundle", "-b", $"{_bucket}/images", "-m", manifest, "--skipmanifest", .. Endpoint]);
        BundleCtlRunner.Outcome resumed = await BundleCtlRunner.RunAsync(["upload-bundle", "-b", $"{_bucket}/images", "-m", manifest, "--part", "1", .. Endpoint]);
        string downloaded = _dir.Sub("downloaded");
        BundleCtlRunner.Outcome download = await BundleCtlRunner.RunAsync(["download-bundle", "-b", $"{_bucket}/images", "-p", "classic.img", "-d", downloaded, .. Endpoint]);
        BundleCtlRunner.Outcome unbundle = await BundleCtlRunner.RunAsync(["unbundle", "-m", Path.Combine(downloaded, "classic.img.manifest.xml"),
            "-k", _user.PrivateKeyPath, "-d", _dir.Sub("restored"), .. Endpoint]);
        BundleCtlRunner.Outcome straight = await BundleCtlRunner.RunAsync(["verify", "-m", manifest, "-k", _user.PrivateKeyPath,
            "-s", $"s3://{_bucket}/images", "-c", _user.CertificatePath, .. Endpoint]);
        BundleCtlRunner.Outcome delete = await BundleCtlRunner.RunAsync(["delete-bundle", "-b", $"{_bucket}/images", "-p", "classic.img", "-y", .. Endpoint]);

        Assert.True(partsOnly.ExitCode == 0, partsOnly.StdErr);
        Assert.Contains("manifest skipped", partsOnly.StdOut);
        Assert.True(resumed.ExitCode == 0, resumed.StdErr);
        Assert.Contains("uploaded 0 parts (2 already there)", resumed.StdOut); // --part 1 of 3: parts 1 and 2 were there
        Assert.True(download.ExitCode == 0, download.StdErr);
        Assert.True(unbundle.ExitCode == 0, unbundle.StdErr);
        Assert.True(TestImages.SameContent(image, _dir.File("restored/classic.img")));
        Assert.True(straight.ExitCode == 0, straight.StdErr);
        Assert.True(delete.ExitCode == 0, delete.StdErr);
        ListObjectsV2Response left = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket });
        Assert.Empty(left.S3Objects ?? []);
    }

    [Fact]
    public async Task Uploading_one_of_our_bundles_takes_its_slice_index_along_before_the_manifest()
    {
        using AmazonS3Client s3 = _server.Client;
        await s3.PutBucketAsync(_bucket);
        string image = TestImages.Create(_dir.File("ours.img"), 6_000_000, seed: 72);
        string local = _dir.Sub("ours");
        BundleCtlRunner.Outcome bundled = await BundleCtlRunner.RunAsync("bundle-image", "-i", image, "-c", _user.CertificatePath, "-k",
            _user.PrivateKeyPath, "-u", "123456789012", "-d", local, "--ec2cert", TestIdentity.Cloud(_dir.Path).CertificatePath);
        Assert.True(bundled.ExitCode == 0, bundled.StdErr);

        BundleCtlRunner.Outcome upload = await BundleCtlRunner.RunAsync(["upload-bundle", "-b", $"{_bucket}/ours", "-m", Path.Combine(local, "ours.img.manifest.xml"), .. Endpoint]);

        Assert.True(upload.ExitCode == 0, upload.StdErr);
        using GetObjectResponse index = await s3.GetObjectAsync(_bucket, "ours/ours.img.manifest.xml.index");
        using var body = new MemoryStream();
        await index.ResponseStream.CopyToAsync(body);
        Assert.Equal(File.ReadAllBytes(Path.Combine(local, "ours.img.manifest.xml.index")), body.ToArray());
    }

    [Fact]
    public async Task Downloading_a_bundle_that_is_not_there_is_a_clear_error()
    {
        using AmazonS3Client s3 = _server.Client;
        await s3.PutBucketAsync(_bucket);

        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync(["download-bundle", "-b", _bucket, "-p", "missing", "-d", _dir.Path, .. Endpoint]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("missing.manifest.xml", run.StdErr);
    }

    public void Dispose() => _dir.Dispose();
}
