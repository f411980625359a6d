using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests;

public sealed class BundleImageCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new("cli");
    private readonly TestIdentity _user;
    private readonly TestIdentity _cloud;

    public BundleImageCommandTests()
    {
        _user = TestIdentity.User(_dir.Path);
        _cloud = TestIdentity.Cloud(_dir.Path);
    }

    private string[] BundleArgs(string image, string dest, params string[] extra) =>
    [
        "bundle-image", "-i", image, "-c", _user.CertificatePath, "-k", _user.PrivateKeyPath, "-u", "1234-5678-9012",
        "-d", dest, "--ec2cert", _cloud.CertificatePath, .. extra,
    ];

    [Fact]
    public async Task A_bundle_made_by_bundlectl_restores_with_openssl_gzip_and_tar_and_its_signature_verifies()
    {
        string image = TestImages.Create(_dir.File("disk.img"), 26_000_000, seed: 12, withHoles: true);
        string dest = _dir.Sub("bundle");

        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync(BundleArgs(image, dest, "-r", "i386", "--kernel", "aki-12345678",
            "-B", "root=/dev/sda1,ami=sda1", "--productcodes", "AB12,CD34", "--level", "9", "--slice-mib", "1"));

        Assert.Equal(0, run.ExitCode);
        Assert.Empty(run.StdErr);
        Assert.Contains($"{dest}/disk.img.manifest.xml", run.StdOut);
        string manifestPath = Path.Combine(dest, "disk.img.manifest.xml");
        string manifest = File.ReadAllText(manifestPath);
        Assert.StartsWith("<?xml version='1.0'?><manifest><version>2007-10-10</version>", manifest);
        Assert.Contains("<architecture>i386</architecture><block_device_mapping><mapping><virtual>ami</virtual><device>sda1</device></mapping>" +
                        "<mapping><virtual>root</virtual><device>/dev/sda1</device></mapping></block_device_mapping><kernel_id>aki-12345678</kernel_id>" +
                        "<product_codes><product_code>AB12</product_code><product_code>CD34</product_code></product_codes>", manifest);
        Assert.Contains("<user>123456789012</user>", manifest);
        string restored = ClassicPipeline.Restore(_dir.Path, manifestPath, _user);
        ClassicPipeline.VerifySignature(_dir.Path, manifestPath, _user);
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "disk.img")));
    }

    [Fact]
    public async Task Timings_split_the_run_into_start_up_job_and_shutdown_on_one_stderr_line()
    {
        string image = TestImages.Create(_dir.File("timed.img"), 3_000_000, seed: 14);

        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync(BundleArgs(image, _dir.Sub("timed"), "--timings"));

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("timed.img.manifest.xml", run.StdOut); // the summary stays on stdout
        string line = Assert.Single(run.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        System.Text.RegularExpressions.Match m = System.Text.RegularExpressions.Regex.Match(line,
            @"^bundlectl: timings: start-up (\d+\.\d{3}) s, job (\d+\.\d{3}) s, shutdown (\d+\.\d{3}) s, total (\d+\.\d{3}) s$");
        Assert.True(m.Success, line);
        double[] phases = [.. m.Groups.Values.Skip(1).Select(g => double.Parse(g.Value, System.Globalization.CultureInfo.InvariantCulture))];
        Assert.All(phases[..3], seconds => Assert.True(seconds > 0, line));
        Assert.InRange(phases[3] - phases[..3].Sum(), -0.0025, 0.0025); // the phases add up to the total
    }

    [Fact]
    public async Task A_bundle_from_the_classic_pipeline_restores_byte_identical_with_bundlectl_unbundle()
    {
        string image = TestImages.Create(_dir.File("classic.img"), 31_000_000, seed: 13, withHoles: true);
        string manifestPath = ClassicPipeline.MakeBundle(_dir.Path, image, _user, _cloud);
        string restored = _dir.Sub("restored");

        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync("unbundle", "-m", manifestPath, "-k", _user.PrivateKeyPath,
            "-s", Path.GetDirectoryName(manifestPath)!, "-d", restored, "-c", _user.CertificatePath);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("signature", run.StdOut);
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "classic.img")));
    }

    [Fact]
    public async Task Verify_checks_a_bundle_and_writes_nothing()
    {
        string image = TestImages.Create(_dir.File("v.img"), 2_000_000, seed: 14);
        string dest = _dir.Sub("bundle");
        Assert.Equal(0, (await BundleCtlRunner.RunAsync(BundleArgs(image, dest))).ExitCode);
        string before = string.Join(",", Directory.GetFileSystemEntries(_dir.Path, "*", SearchOption.AllDirectories).Order());

        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync("verify", "-m", Path.Combine(dest, "v.img.manifest.xml"),
            "-k", _user.PrivateKeyPath, "-c", _user.CertificatePath);

        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("verified v.img", run.StdOut);
        Assert.Equal(before, string.Join(",", Directory.GetFileSystemEntries(_dir.Path, "*", SearchOption.AllDirectories).Order()));
    }

    [Fact]
    public async Task An_image_path_that_does_not_exist_exits_2_with_one_line_and_writes_nothing()
    {
        string dest = _dir.Sub("bundle");

        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync(BundleArgs(_dir.File("missing.img"), dest));

        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"bundlectl: error: image '{_dir.File("missing.img")}' does not exist", Assert.Single(run.ErrorLines));
        Assert.Empty(Directory.GetFileSystemEntries(dest));
    }

    [Theory]
    [InlineData("12345678901")]
    [InlineData("AKIAIOSFODNN7EXAMPLE")]
    public async Task An_account_number_that_is_not_12_digits_exits_1(string account)
    {
        string image = TestImages.Create(_dir.File("a.img"), 1000, seed: 1);
        string dest = _dir.Sub("bundle");
        string[] args = BundleArgs(image, dest);
        args[Array.IndexOf(args, "-u") + 1] = account;

        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync(args);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("is not a 12-digit AWS account number", Assert.Single(run.ErrorLines));
        Assert.Empty(Directory.GetFileSystemEntries(dest));
    }

    [Fact]
    public async Task A_missing_required_flag_exits_1_naming_it()
    {
        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync("bundle-image", "-i", "x.img");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--destination", run.StdErr);
    }

    [Fact]
    public async Task An_existing_bundle_is_not_overwritten_unless_asked()
    {
        string image = TestImages.Create(_dir.File("o.img"), 100_000, seed: 2);
        string dest = _dir.Sub("bundle");
        Assert.Equal(0, (await BundleCtlRunner.RunAsync(BundleArgs(image, dest))).ExitCode);
        string manifest = File.ReadAllText(Path.Combine(dest, "o.img.manifest.xml"));

        BundleCtlRunner.Outcome refused = await BundleCtlRunner.RunAsync(BundleArgs(image, dest));
        BundleCtlRunner.Outcome replaced = await BundleCtlRunner.RunAsync(BundleArgs(image, dest, "--overwrite"));

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("--overwrite", refused.StdErr);
        Assert.Equal(0, replaced.ExitCode);
        Assert.NotEqual(manifest, File.ReadAllText(Path.Combine(dest, "o.img.manifest.xml"))); // fresh key, fresh manifest
    }

    [Fact]
    public async Task Keygen_makes_an_identity_that_bundles_and_verifies()
    {
        string keys = _dir.Sub("keys");
        BundleCtlRunner.Outcome keygen = await BundleCtlRunner.RunAsync("keygen", "-d", keys, "-n", "me");
        string image = TestImages.Create(_dir.File("k.img"), 50_000, seed: 3);
        string dest = _dir.Sub("bundle");

        BundleCtlRunner.Outcome bundle = await BundleCtlRunner.RunAsync("bundle-image", "-i", image, "-c", Path.Combine(keys, "me-cert.pem"),
            "-k", Path.Combine(keys, "me-pk.pem"), "-u", "123456789012", "-d", dest);
        BundleCtlRunner.Outcome verify = await BundleCtlRunner.RunAsync("verify", "-m", Path.Combine(dest, "k.img.manifest.xml"),
            "-k", Path.Combine(keys, "me-pk.pem"), "-c", Path.Combine(keys, "me-cert.pem"));
        BundleCtlRunner.Outcome again = await BundleCtlRunner.RunAsync("keygen", "-d", keys, "-n", "me");

        Assert.Equal(0, keygen.ExitCode);
        Assert.Equal(0, bundle.ExitCode);
        Assert.Contains("no --ec2cert given", bundle.StdErr); // said clearly: the cloud fields use your own certificate
        Assert.Equal(0, verify.ExitCode);
        Assert.Equal(1, again.ExitCode);
    }

    public void Dispose() => _dir.Dispose();
}
