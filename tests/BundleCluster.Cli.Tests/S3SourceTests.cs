using Amazon.S3;
using Amazon.S3.Model;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Manifest;
using BundleCluster.Storage.S3;
using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests;

/// <summary>Images read from s3:// with ranged GETs, pinned to the ETag seen when the job was planned.</summary>
[Trait("Tier", "Slow")] // an S3 test server (Node)
public sealed class S3SourceTests : IClassFixture<S3DestinationTests.Server>, IDisposable
{
    private readonly S3DestinationTests.Server _server;
    private readonly TempDirectory _dir = new("s3-source");
    private readonly TestIdentity _user;
    private readonly string _bucket = "images-" + Guid.NewGuid().ToString("N")[..8];

    public S3SourceTests(S3DestinationTests.Server server)
    {
        _server = server;
        _user = TestIdentity.User(_dir.Path);
    }

    private async Task<(AmazonS3Client Client, string Image)> UploadImageAsync()
    {
        AmazonS3Client s3 = _server.Client;
        await s3.PutBucketAsync(_bucket);
        string image = TestImages.Create(_dir.File("disk.img"), 9_000_000, seed: 81, withHoles: true);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = "raw/disk.img", FilePath = image });
        return (s3, image);
    }

    private Task<BundleCtlRunner.Outcome> BundleAsync(string image, string destination) => BundleCtlRunner.RunAsync(
        "bundle-image", "-i", image, "-c", _user.CertificatePath, "-k", _user.PrivateKeyPath, "-u", "123456789012",
        "-d", destination, "--ec2cert", _user.CertificatePath, "--endpoint-url", _server.S3.EndpointUrl, "--slice-mib", "1");

    [Fact]
    public async Task An_image_read_from_s3_bundles_identically_to_the_same_file()
    {
        (AmazonS3Client s3, string image) = await UploadImageAsync();
        using (s3)
        {
            // The tar header records the modification time: give the file the object's.
            GetObjectMetadataResponse head = await s3.GetObjectMetadataAsync(_bucket, "raw/disk.img");
            File.SetLastWriteTimeUtc(image, head.LastModified!.Value.ToUniversalTime());
        }

        string fromS3 = _dir.Sub("from-s3");
        string fromFile = _dir.Sub("from-file");
        BundleCtlRunner.Outcome s3Run = await BundleAsync($"s3://{_bucket}/raw/disk.img", fromS3);
        BundleCtlRunner.Outcome fileRun = await BundleAsync(image, fromFile);

        Assert.True(s3Run.ExitCode == 0, s3Run.StdErr);
        Assert.True(fileRun.ExitCode == 0, fileRun.StdErr);
        BundleManifest a = ManifestReader.Parse(File.ReadAllText(Path.Combine(fromS3, "disk.img.manifest.xml")));
        BundleManifest b = ManifestReader.Parse(File.ReadAllText(Path.Combine(fromFile, "disk.img.manifest.xml")));
        Assert.Equal(b.Image.DigestSha1Hex, a.Image.DigestSha1Hex);
        Assert.Equal(b.Image.Size, a.Image.Size);
        Assert.Equal(b.Image.BundledSize, a.Image.BundledSize); // same compressed stream; only the random key differs
        string restored = ClassicPipeline.Restore(_dir.Path, Path.Combine(fromS3, "disk.img.manifest.xml"), _user);
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "disk.img")));
    }

    [Fact]
    public async Task An_object_overwritten_after_planning_fails_reads_clearly()
    {
        (AmazonS3Client s3, _) = await UploadImageAsync();
        using (s3)
        {
            await using S3ImageReader reader = await S3ImageReader.OpenAsync($"s3://{_bucket}/raw/disk.img", new S3Settings(_server.S3.EndpointUrl), null, CancellationToken.None);
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = "raw/disk.img", ContentBody = "something else entirely" });

            BundleException ex = await Assert.ThrowsAsync<BundleException>(async () =>
                await reader.ReadExactlyAtAsync(0, new byte[100], CancellationToken.None));

            Assert.Contains("overwritten while it was being bundled", ex.Message);
        }
    }

    [Fact]
    public async Task A_key_that_does_not_exist_exits_2()
    {
        using AmazonS3Client s3 = _server.Client;
        await s3.PutBucketAsync(_bucket);

        BundleCtlRunner.Outcome run = await BundleAsync($"s3://{_bucket}/no/such.img", _dir.Sub("out"));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("does not exist", run.StdErr);
    }

    public void Dispose() => _dir.Dispose();
}
