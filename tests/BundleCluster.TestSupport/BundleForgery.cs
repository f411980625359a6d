using System.IO.Compression;
using System.Security.Cryptography;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Manifest;
using BundleCluster.Format.Parts;

namespace BundleCluster.TestSupport;

/// <summary>
/// Makes hostile bundles for tests: takes a genuine bundle apart with the user's key (manifest, AES key and IV, gzip
/// bytes), lets a test change exactly one thing, and writes it back re-encrypted, re-split, with part digests and a
/// manifest re-signed by the same user — so the injected defect is the only one, and a signature check passes.
/// </summary>
public sealed class BundleForgery
{
    private BundleForgery(BundleManifest manifest, byte[] key, byte[] iv, byte[] gzip)
    {
        Manifest = manifest;
        Key = key;
        Iv = iv;
        Gzip = gzip;
    }

    public BundleManifest Manifest { get; }

    public byte[] Key { get; }

    public byte[] Iv { get; }

    /// <summary>The plaintext of the bundle: one gzip member holding the tar stream.</summary>
    public byte[] Gzip { get; }

    public static BundleForgery Open(string manifestPath, TestIdentity user)
    {
        BundleManifest manifest = ManifestReader.ReadFile(manifestPath);
        using RSA privateKey = KeyFiles.LoadPrivateKey(user.PrivateKeyPath);
        byte[] key = Convert.FromHexString(KeyWrapping.TryUnwrap(manifest.Image.UserEncryptedKey, privateKey)!);
        byte[] iv = Convert.FromHexString(KeyWrapping.TryUnwrap(manifest.Image.UserEncryptedIv, privateKey)!);
        using var ciphertext = new MemoryStream();
        foreach (ManifestPart part in manifest.Image.Parts)
        {
            ciphertext.Write(File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(manifestPath)!, part.FileName)));
        }

        using Aes aes = Aes.Create();
        aes.Key = key;
        return new BundleForgery(manifest, key, iv, aes.DecryptCbc(ciphertext.ToArray(), iv, PaddingMode.PKCS7));
    }

    /// <summary>The tar stream the bundle holds.</summary>
    public byte[] Tar()
    {
        using var gunzip = new GZipStream(new MemoryStream(Gzip), CompressionMode.Decompress);
        using var tar = new MemoryStream();
        gunzip.CopyTo(tar);
        return tar.ToArray();
    }

    public static byte[] GzipOf(byte[] tar)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(tar);
        }

        return output.ToArray();
    }

    /// <summary>
    /// Writes a bundle of <paramref name="gzip"/> into <paramref name="directory"/> (encrypted with this bundle's key,
    /// optionally with an extra block of PKCS#7 padding), with a manifest changed by <paramref name="edit"/> and signed by
    /// <paramref name="user"/>. The tar digest is recomputed when <paramref name="tarForDigest"/> is given.
    /// </summary>
    public string Write(string directory, byte[] gzip, TestIdentity user, Func<ImageDescription, ImageDescription>? edit = null,
        byte[]? tarForDigest = null, bool extraPaddingBlock = false)
    {
        byte[] plaintext = extraPaddingBlock ? [.. gzip, .. Enumerable.Repeat((byte)16, 16)] : gzip;
        using Aes aes = Aes.Create();
        aes.Key = Key;
        byte[] ciphertext = aes.EncryptCbc(plaintext, Iv, PaddingMode.PKCS7);
        string prefix = Manifest.Image.Name;
        int count = (int)((ciphertext.Length + Format.BundleFileNames.PartSize - 1) / Format.BundleFileNames.PartSize);
        var parts = new List<ManifestPart>();
        for (int i = 0; i < count; i++)
        {
            byte[] data = ciphertext.AsSpan(i * Format.BundleFileNames.PartSize, Math.Min(Format.BundleFileNames.PartSize, ciphertext.Length - (i * Format.BundleFileNames.PartSize))).ToArray();
            string name = $"{prefix}.part.{i}";
            File.WriteAllBytes(Path.Combine(directory, name), data);
            parts.Add(new ManifestPart(i, name, Convert.ToHexStringLower(SHA1.HashData(data))));
        }

        ImageDescription image = Manifest.Image with
        {
            Parts = parts,
            BundledSize = ciphertext.Length,
            DigestSha1Hex = tarForDigest is null ? Manifest.Image.DigestSha1Hex : Convert.ToHexStringLower(SHA1.HashData(tarForDigest)),
        };
        image = edit?.Invoke(image) ?? image;
        using RSA signingKey = KeyFiles.LoadPrivateKey(user.PrivateKeyPath);
        string manifestPath = Path.Combine(directory, Format.BundleFileNames.Manifest(prefix));
        File.WriteAllText(manifestPath, ManifestWriter.WriteSigned(Manifest with { Image = image }, signingKey));
        return manifestPath;
    }
}
