using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BundleCluster.Format.Bundling;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Manifest;
using BundleCluster.Format.Tar;
using BundleCluster.Format.Unbundling;
using BundleCluster.Storage.Sinks;
using BundleCluster.TestSupport;

namespace BundleCluster.Format.Tests;

/// <summary>Bad bundles: each is refused with a specific message and leaves no image file behind.</summary>
public sealed class UnbundleRejectionTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestIdentity _user;
    private readonly TestIdentity _cloud;
    private readonly string _bundle;
    private readonly string _restored;

    public UnbundleRejectionTests()
    {
        _user = TestIdentity.User(_dir.Path);
        _cloud = TestIdentity.Cloud(_dir.Path);
        _bundle = _dir.Sub("bundle");
        _restored = _dir.Sub("restored");
    }

    private async Task<string> MakeBundleAsync()
    {
        // Random bytes do not compress, so 25 MB makes three parts.
        byte[] data = new byte[25_000_000];
        new Random(8).NextBytes(data);
        string image = _dir.File("image");
        File.WriteAllBytes(image, data);
        return await ReferenceBundler.BundleAsync(image, _bundle, _user, _cloud, level: 1);
    }

    private async Task<BundleException> UnbundleFailsAsync(string manifestPath, string? privateKey = null, string? cert = null)
    {
        BundleException ex = await Assert.ThrowsAsync<BundleException>(() => Unbundler.RunAsync(
            new UnbundleRequest(manifestPath, privateKey ?? _user.PrivateKeyPath, DirectoryPartSource.ForDirectory(_bundle), _restored, cert)));
        Assert.Empty(Directory.GetFileSystemEntries(_restored));
        return ex;
    }

    [Fact]
    public async Task A_tampered_part_is_named_as_corrupt()
    {
        string manifest = await MakeBundleAsync();
        using (var part = new FileStream(Path.Combine(_bundle, "image.part.1"), FileMode.Open))
        {
            // Flip the bits of one byte: writing a constant would leave the part intact 1 time in 256.
            part.Position = 1000;
            int original = part.ReadByte();
            part.Position = 1000;
            part.WriteByte((byte)~original);
        }

        BundleException ex = await UnbundleFailsAsync(manifest);

        Assert.Contains("bundle part 'image.part.1' is corrupt", ex.Message);
    }

    [Fact]
    public async Task A_missing_part_is_named_before_anything_is_decoded()
    {
        string manifest = await MakeBundleAsync();
        File.Delete(Path.Combine(_bundle, "image.part.2"));

        BundleException ex = await UnbundleFailsAsync(manifest);

        Assert.Equal(BundleErrorKind.FileNotFound, ex.Kind);
        Assert.Contains("bundle part 'image.part.2' does not exist", ex.Message);
    }

    [Fact]
    public async Task A_truncated_part_is_refused()
    {
        string manifest = await MakeBundleAsync();
        using (var part = new FileStream(Path.Combine(_bundle, "image.part.0"), FileMode.Open))
        {
            part.SetLength(part.Length - 100);
        }

        BundleException ex = await UnbundleFailsAsync(manifest);

        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public async Task A_wrong_private_key_is_refused()
    {
        string manifest = await MakeBundleAsync();

        BundleException ex = await UnbundleFailsAsync(manifest, TestIdentity.Other(_dir.Path).PrivateKeyPath);

        Assert.Equal(BundleErrorKind.KeyMismatch, ex.Kind);
        Assert.Contains("cannot decrypt the bundle key", ex.Message);
    }

    [Fact]
    public async Task A_manifest_with_a_dtd_is_refused()
    {
        string manifest = await MakeBundleAsync();
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("<?xml version='1.0'?>", "<?xml version='1.0'?><!DOCTYPE manifest SYSTEM 'file:///etc/passwd'>"));

        BundleException ex = await UnbundleFailsAsync(manifest);

        Assert.Contains("DTD", ex.Message);
    }

    [Fact]
    public async Task A_part_filename_with_a_path_is_refused()
    {
        string manifest = await MakeBundleAsync();
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("<filename>image.part.0</filename>", "<filename>../bundle/image.part.0</filename>"));

        BundleException ex = await UnbundleFailsAsync(manifest);

        Assert.Contains("not a bare file name", ex.Message);
    }

    [Theory]
    [InlineData(-1000, "manifest's size is")]
    [InlineData(+1000, "the manifest says the image is")]
    public async Task A_manifest_whose_size_lies_is_refused(int delta, string expected)
    {
        string manifest = await MakeBundleAsync();
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("<size>25000000</size>", $"<size>{25_000_000 + delta}</size>"));

        BundleException ex = await UnbundleFailsAsync(manifest);

        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public async Task A_manifest_altered_after_signing_fails_signature_verification()
    {
        string manifest = await MakeBundleAsync();
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("<architecture>x86_64</architecture>", "<architecture>i386</architecture>"));

        BundleException ex = await UnbundleFailsAsync(manifest, cert: _user.CertificatePath);

        Assert.Contains("signature does not verify", ex.Message);
    }

    [Fact]
    public async Task A_tar_member_that_would_escape_the_destination_is_refused()
    {
        string manifest = await BundleWithMemberNameAsync("../escaped");

        BundleException ex = await UnbundleFailsAsync(manifest);

        Assert.Contains("outside the destination", ex.Message);
        Assert.False(File.Exists(Path.Combine(_dir.Path, "escaped")));
    }

    /// <summary>A hostile bundle: correct in every digest, but its tar member is named to climb out of the destination.</summary>
    private async Task<string> BundleWithMemberNameAsync(string memberName)
    {
        byte[] data = new byte[5000];
        var layout = new TarStreamLayout(memberName, data.Length, 0);
        var sink = new DirectoryBundleSink(_bundle, "hostile");
        using BundleKey key = BundleKey.Generate();
        SealedBundle sealedBundle = await Bundler.SealAsync(layout, new MemoryImage(data), key, 6, 4 << 20,
            (part, ct) => sink.WritePartAsync(part.Index, part.Data, ct));
        using X509Certificate2 cert = KeyFiles.LoadCertificate(_user.CertificatePath, "certificate");
        BundleManifest manifest = ManifestAssembly.Build("hostile", ManifestMetadata.Create("x86_64", "123456789012", null, null, null, null),
            data.Length, sealedBundle.TarDigestHex, sealedBundle.Seal, WrappedBundleKey.Wrap(key, cert, cert));
        using RSA signingKey = KeyFiles.LoadPrivateKey(_user.PrivateKeyPath);
        await sink.CommitAsync("hostile.manifest.xml", manifest.Image.Parts.Select(p => p.FileName).ToList(),
            ManifestWriter.WriteSigned(manifest, signingKey), [], CancellationToken.None);
        return Path.Combine(_bundle, "hostile.manifest.xml");
    }

    public void Dispose() => _dir.Dispose();
}
