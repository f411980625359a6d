using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests;

/// <summary>Images past the limits of the old formats: an 8 GiB+ tar size field and a gzip ISIZE that wraps at 4 GiB.</summary>
[Trait("Tier", "Slow")] // multi-GiB images
public sealed class LargeImageTests
{
    [Fact]
    [Trait("Category", "Long")] // about a minute on 2 cores; part of the default run
    public async Task A_9_GiB_sparse_image_round_trips_through_bundlectl()
    {
        using var dir = new TempDirectory("large");
        TestIdentity user = TestIdentity.User(dir.Path);
        string image = dir.File("huge.img");
        ExternalTool.Bash($"""
            truncate -s 9G '{image}'
            printf 'first bytes' | dd of='{image}' conv=notrunc status=none
            head -c 3000000 /dev/urandom | dd of='{image}' bs=1M seek=6000 conv=notrunc status=none
            printf 'last bytes' | dd of='{image}' bs=1 seek=$((9*1024*1024*1024-10)) conv=notrunc status=none
            """);
        string bundle = dir.Sub("bundle");
        string restored = dir.Sub("restored");

        BundleCtlRunner.Outcome bundled = await BundleCtlRunner.RunAsync("bundle-image", "-i", image, "-c", user.CertificatePath,
            "-k", user.PrivateKeyPath, "-u", "123456789012", "-d", bundle, "--ec2cert", user.CertificatePath, "--level", "1");
        BundleCtlRunner.Outcome unbundled = await BundleCtlRunner.RunAsync("unbundle", "-m", Path.Combine(bundle, "huge.img.manifest.xml"),
            "-k", user.PrivateKeyPath, "-d", restored, "-c", user.CertificatePath);

        Assert.Equal(0, bundled.ExitCode);
        Assert.Equal(0, unbundled.ExitCode);
        Assert.Contains("<size>9663676416</size>", File.ReadAllText(Path.Combine(bundle, "huge.img.manifest.xml")));
        ExternalTool.Bash($"cmp '{image}' '{Path.Combine(restored, "huge.img")}'");
        long allocated = long.Parse(ExternalTool.Bash($"stat -c %b '{Path.Combine(restored, "huge.img")}'").Trim()) * 512;
        Assert.True(allocated < 64L << 20, $"the restored image occupies {allocated} bytes; its holes were written out");
    }
}
