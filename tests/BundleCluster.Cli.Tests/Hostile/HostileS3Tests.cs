using Amazon.S3;
using Amazon.S3.Model;
using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests.Hostile;

/// <summary>download-bundle and upload-bundle with hostile objects, destinations and part files, against a real S3 server.</summary>
[Trait("Tier", "Slow")] // an S3 test server (Node)
public sealed class HostileS3Tests : IClassFixture<S3DestinationTests.Server>, IClassFixture<HostileBundleFixture>, IDisposable
{
    private readonly S3DestinationTests.Server _server;
    private readonly HostileBundleFixture _bundle;
    private readonly TempDirectory _dir = new("hostile-s3");
    private readonly string _bucket = "hostile-" + Guid.NewGuid().ToString("N")[..8];

    public HostileS3Tests(S3DestinationTests.Server server, HostileBundleFixture bundle)
    {
        _server = server;
        _bundle = bundle;
    }

    private string[] Endpoint => ["--endpoint-url", _server.S3.EndpointUrl];

    private async Task UploadGenuineAsync()
    {
        using AmazonS3Client s3 = _server.Client;
        await s3.PutBucketAsync(_bucket);
        BundleCtlRunner.Outcome upload = await Refusal.RunAsync(["upload-bundle", "-b", _bucket, "-m", Path.Combine(_bundle.Bundle, "h.img.manifest.xml"), .. Endpoint]);
        Assert.True(upload.ExitCode == 0, upload.StdErr);
    }

    [Fact]
    public async Task Download_replaces_a_planted_symlink_instead_of_writing_through_it()
    {
        await UploadGenuineAsync();
        string destination = _dir.Sub("download");
        string victim = _dir.File("victim");
        File.WriteAllText(victim, "do not touch");
        File.CreateSymbolicLink(Path.Combine(destination, "h.img.part.0"), victim);

        BundleCtlRunner.Outcome run = await Refusal.RunAsync(["download-bundle", "-b", _bucket, "-p", "h.img", "-d", destination, .. Endpoint]);

        Assert.True(run.ExitCode == 0, run.StdErr);
        Assert.Equal("do not touch", File.ReadAllText(victim));
        Assert.Null(new FileInfo(Path.Combine(destination, "h.img.part.0")).LinkTarget);
        BundleCtlRunner.Outcome verify = await Refusal.RunAsync("verify", "-m", Path.Combine(destination, "h.img.manifest.xml"), "-k", _bundle.User.PrivateKeyPath);
        Assert.True(verify.ExitCode == 0, verify.StdErr);
    }

    [Fact]
    public async Task Download_refuses_an_object_too_large_to_be_a_part_without_buffering_it()
    {
        await UploadGenuineAsync();
        using (AmazonS3Client s3 = _server.Client)
        {
            // Stands in for the 1 GiB object of the review: anything above 10 MiB is refused from its length alone.
            await s3.PutObjectAsync(new PutObjectRequest
            {
                BucketName = _bucket, Key = "h.img.part.1", InputStream = new MemoryStream(new byte[(10 << 20) + 16]), UseChunkEncoding = false,
            });
        }

        string destination = _dir.Sub("oversized");

        BundleCtlRunner.Outcome run = await Refusal.RunAsync(["download-bundle", "-b", _bucket, "-p", "h.img", "-d", destination, .. Endpoint]);

        Refusal.Assert(run, 254, "parts are at most 10485760 bytes");
        Refusal.NothingIn(destination);
    }

    [Fact]
    public async Task Upload_refuses_a_part_that_is_a_FIFO_at_once()
    {
        using (AmazonS3Client s3 = _server.Client)
        {
            await s3.PutBucketAsync(_bucket);
        }

        string directory = _dir.Sub("fifo-parts");
        string manifest = _bundle.CopyBundle(directory);
        File.Delete(Path.Combine(directory, "h.img.part.2"));
        ExternalTool.Bash($"mkfifo '{Path.Combine(directory, "h.img.part.2")}'");

        BundleCtlRunner.Outcome run = await Refusal.RunAsync(["upload-bundle", "-b", _bucket, "-m", manifest, .. Endpoint]);

        Refusal.Assert(run, 1, "is a FIFO");
    }

    public void Dispose() => _dir.Dispose();
}
