using BundleCluster.Cli.Tests.Hostile;
using BundleCluster.Storage.S3;
using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests;

/// <summary>
/// S3 settings a store would only reject mid-job (or that could never connect) are refused before anything is read,
/// with one line naming the setting. No S3 server is needed: nothing may be contacted.
/// </summary>
public sealed class S3SettingsTests : IDisposable
{
    private readonly TempDirectory _dir = new("s3-settings");

    [Theory]
    [InlineData("--acl", "public-reed", "S3 ACL 'public-reed' is not one of")]
    [InlineData("--endpoint-url", "ftp://127.0.0.1:9", "S3 endpoint URL 'ftp://127.0.0.1:9' is not an absolute http:// or https:// URL")]
    [InlineData("--endpoint-url", "localhost:9000", "S3 endpoint URL 'localhost:9000' is not")]
    [InlineData("--region", "us-middle-7", "S3 region 'us-middle-7' is not an AWS region")]
    [InlineData("--retry", "-1", "S3 retries -1 is not 0-20")]
    public async Task Bundling_to_s3_with_a_bad_setting_is_refused_before_reading_the_image(string option, string value, string expected)
    {
        TestIdentity user = TestIdentity.User(_dir.Path);
        string image = TestImages.Create(_dir.File("disk.img"), 100_000, seed: 3);

        BundleCtlRunner.Outcome run = await Refusal.RunAsync("bundle-image", "-i", image, "-c", user.CertificatePath, "-k", user.PrivateKeyPath,
            "-u", "123456789012", "-d", "s3://bundles/nightly", "--ec2cert", TestIdentity.Cloud(_dir.Path).CertificatePath, option, value);

        Refusal.Assert(run, 1, expected);
    }

    [Fact]
    public void A_region_of_an_s3_compatible_store_may_have_any_name_but_aws_regions_must_exist()
    {
        Assert.Equal("garage", new S3Settings("http://127.0.0.1:9000", "garage").Validate().Region);
        Assert.Equal("eu-central-1", new S3Settings(null, "eu-central-1").Validate().Region);
        var refused = Assert.Throws<BundleCluster.Format.Errors.BundleException>(() => new S3Settings(null, "garage").Validate());
        Assert.Contains("S3 region 'garage' is not an AWS region", refused.Message);
    }

    public void Dispose() => _dir.Dispose();
}
