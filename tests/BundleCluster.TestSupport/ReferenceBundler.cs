using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BundleCluster.Format.Bundling;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Manifest;
using BundleCluster.Format.Parts;
using BundleCluster.Format.Tar;
using BundleCluster.Storage.Sinks;
using BundleCluster.Storage.Sources;

namespace BundleCluster.TestSupport;

/// <summary>Makes a complete bundle in-process (no Orleans) with the Format library's reference pipeline.</summary>
public static class ReferenceBundler
{
    public static async Task<string> BundleAsync(string imagePath, string destination, TestIdentity user, TestIdentity cloud,
        string? prefix = null, int level = 6, int sliceSize = 4 << 20, int? parallelism = null)
    {
        string name = BundlePrefix.Resolve(prefix, imagePath);
        await using FileImageReader image = FileImageReader.Open(imagePath);
        var layout = new TarStreamLayout(name, image.Length, image.MtimeUnixSeconds);
        var sink = new DirectoryBundleSink(destination, Guid.NewGuid().ToString("N"));
        await sink.PrepareAsync(name, overwrite: false, CancellationToken.None);
        using BundleKey key = BundleKey.Generate();
        SealedBundle sealedBundle = await Bundler.SealAsync(layout, image, key, level, sliceSize,
            (part, ct) => sink.WritePartAsync(part.Index, part.Data, ct), parallelism);
        using X509Certificate2 userCert = KeyFiles.LoadCertificate(user.CertificatePath, "certificate");
        using X509Certificate2 cloudCert = KeyFiles.LoadCertificate(cloud.CertificatePath, "cloud certificate");
        var metadata = ManifestMetadata.Create("x86_64", "1234-5678-9012", null, null, null, null);
        BundleManifest manifest = ManifestAssembly.Build(name, metadata, image.Length, sealedBundle.TarDigestHex,
            sealedBundle.Seal, WrappedBundleKey.Wrap(key, userCert, cloudCert));
        using RSA signingKey = KeyFiles.LoadPrivateKey(user.PrivateKeyPath);
        string text = ManifestWriter.WriteSigned(manifest, signingKey);
        await sink.CommitAsync(Format.BundleFileNames.Manifest(name), manifest.Image.Parts.Select(p => p.FileName).ToList(), text, [], CancellationToken.None);
        return Path.Combine(destination, Format.BundleFileNames.Manifest(name));
    }
}
