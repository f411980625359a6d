using BundleCluster.Format.Unbundling;
using BundleCluster.TestSupport;

namespace BundleCluster.Format.Tests;

/// <summary>The reference pipeline's bytes checked by the real tools, and the real tools' bundles read by us.</summary>
public sealed class RealToolTests
{
    [Fact]
    public async Task A_bundle_we_write_restores_with_openssl_gzip_and_gnu_tar_and_its_signature_verifies()
    {
        using var dir = new TempDirectory();
        string image = TestImages.Create(dir.File("disk.img"), 23_000_000, seed: 2, withHoles: true);
        TestIdentity user = TestIdentity.User(dir.Path);
        string manifestPath = await ReferenceBundler.BundleAsync(image, dir.Sub("bundle"), user, TestIdentity.Cloud(dir.Path), level: 9);

        string restored = ClassicPipeline.Restore(dir.Path, manifestPath, user);
        ClassicPipeline.VerifySignature(dir.Path, manifestPath, user);

        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "disk.img")));
    }

    [Fact]
    public async Task A_bundle_made_by_the_classic_pipeline_restores_byte_identical_with_either_key_pair()
    {
        using var dir = new TempDirectory();
        string image = TestImages.Create(dir.File("classic.img"), 30_000_000, seed: 3, withHoles: true);
        TestIdentity user = TestIdentity.User(dir.Path);
        TestIdentity cloud = TestIdentity.Cloud(dir.Path);
        string manifestPath = ClassicPipeline.MakeBundle(dir.Path, image, user, cloud);
        var parts = DirectoryPartSource.ForDirectory(Path.GetDirectoryName(manifestPath)!);

        UnbundleResult result = await Unbundler.RunAsync(new UnbundleRequest(manifestPath, user.PrivateKeyPath, parts, dir.Sub("restored"), user.CertificatePath));
        UnbundleResult cloudResult = await Unbundler.RunAsync(new UnbundleRequest(manifestPath, cloud.PrivateKeyPath, parts, dir.Sub("restored2")));

        Assert.True(ClassicPipeline.LastTarWasSparse(dir.Path));
        Assert.True(result.SignatureVerified);
        Assert.True(result.Sparse);
        Assert.True(TestImages.SameContent(image, dir.File("restored/classic.img")));
        Assert.Equal("cloud", cloudResult.KeyPair);
        Assert.True(TestImages.SameContent(image, dir.File("restored2/classic.img")));
    }
}
