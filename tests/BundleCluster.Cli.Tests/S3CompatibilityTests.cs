using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests;

/// <summary>
/// s3rver stores the AWS SDK's aws-chunked framing as object content unless the client sends plain bodies; with
/// --s3-compat a bundle uploaded there downloads byte-correct.
/// </summary>
[Trait("Tier", "Slow")] // an S3 test server (Node)
public sealed class S3CompatibilityTests : IDisposable
{
    private readonly TempDirectory _dir = new("s3rver");
    private readonly int _port = RedisServer.FreePort();

    public S3CompatibilityTests()
    {
        S3TestServer.UseTestCredentials();
        ExternalTool.Bash($"bash '{RepositoryPaths.Root}/deploy/s3rver.sh' start {_port} '{_dir.Sub("server")}' compat");
    }

    [Fact]
    public async Task With_the_compatibility_switch_a_bundle_uploaded_to_s3rver_downloads_byte_correct()
    {
        TestIdentity user = TestIdentity.User(_dir.Path);
        byte[] data = new byte[15_000_000];
        new Random(95).NextBytes(data);
        string image = _dir.File("compat.img");
        File.WriteAllBytes(image, data);
        string manifest = ClassicPipeline.MakeBundle(_dir.Path, image, user, TestIdentity.Cloud(_dir.Path));
        string[] s3 = ["--endpoint-url", $"http://127.0.0.1:{_port}", "--s3-compat", "--acl", "none"];

        BundleCtlRunner.Outcome upload = await BundleCtlRunner.RunAsync(["upload-bundle", "-b", "compat/bundles", "-m", manifest, .. s3]);
        string downloaded = _dir.Sub("downloaded");
        BundleCtlRunner.Outcome download = await BundleCtlRunner.RunAsync(["download-bundle", "-b", "compat/bundles", "-p", "compat.img", "-d", downloaded, .. s3]);
        BundleCtlRunner.Outcome verify = await BundleCtlRunner.RunAsync(["verify", "-m", Path.Combine(downloaded, "compat.img.manifest.xml"),
            "-k", user.PrivateKeyPath, "-c", user.CertificatePath]);

        Assert.True(upload.ExitCode == 0, upload.StdErr);
        Assert.True(download.ExitCode == 0, download.StdErr); // every part's SHA-1 was checked on the way down
        Assert.True(verify.ExitCode == 0, verify.StdErr);
        foreach (string part in Directory.GetFiles(Path.GetDirectoryName(manifest)!, "compat.img.part.*"))
        {
            Assert.True(TestImages.SameContent(part, Path.Combine(downloaded, Path.GetFileName(part))), $"{part} changed on the way");
        }
    }

    [Fact]
    public async Task Without_the_switch_s3rver_keeps_the_sdk_framing_and_the_download_is_refused_not_used()
    {
        TestIdentity user = TestIdentity.User(_dir.Path);
        string image = TestImages.Create(_dir.File("plain.img"), 200_000, seed: 96);
        string manifest = ClassicPipeline.MakeBundle(_dir.Path, image, user, TestIdentity.Cloud(_dir.Path));
        string[] s3 = ["--endpoint-url", $"http://127.0.0.1:{_port}", "--acl", "none"];

        BundleCtlRunner.Outcome upload = await BundleCtlRunner.RunAsync(["upload-bundle", "-b", "compat/unsafe", "-m", manifest, .. s3]);
        BundleCtlRunner.Outcome download = await BundleCtlRunner.RunAsync(["download-bundle", "-b", "compat/unsafe", "-p", "plain.img", "-d", _dir.Sub("dl"), .. s3]);

        Assert.Equal(0, upload.ExitCode); // s3rver answers 200 while storing the framing
        Assert.Equal(254, download.ExitCode);
        Assert.Contains("invalid manifest", download.StdErr);
    }

    public void Dispose()
    {
        ExternalTool.Run("bash", [$"{RepositoryPaths.Root}/deploy/s3rver.sh", "stop", _dir.File("server")]);
        _dir.Dispose();
    }
}
