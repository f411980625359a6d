using System.IO.Compression;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Manifest;

namespace BundleCluster.Format.Unbundling;

/// <summary>What to unbundle or verify. A null <see cref="DestinationDirectory"/> means verify only.</summary>
public sealed record UnbundleRequest(
    string ManifestPath,
    string PrivateKeyPath,
    IPartSource Parts,
    string? DestinationDirectory,
    string? CertificatePath = null);

/// <summary>What an unbundle or verify established.</summary>
public sealed record UnbundleResult(
    string ImageName,
    string? OutputPath,
    long ImageSize,
    int PartCount,
    bool Sparse,
    bool SignatureVerified,
    string KeyPair);

/// <summary>
/// Restores (or only verifies) a bundle, treating it as untrusted input: the signature when a certificate is given,
/// the key pair (user, falling back to cloud, as euca-unbundle does), every part's presence, size and SHA-1, the
/// CBC padding, the gzip stream, the tar-stream SHA-1, the image size and the member name. The image is written under a
/// temporary name and appears under its real name only after every check passed; on any failure nothing is left.
/// </summary>
public static class Unbundler
{
    public static async Task<UnbundleResult> RunAsync(UnbundleRequest request, CancellationToken ct = default)
    {
        KeyFiles.RequireFile(request.ManifestPath, "manifest");
        string text = await File.ReadAllTextAsync(request.ManifestPath, ct).ConfigureAwait(false);
        BundleManifest manifest = ManifestReader.Parse(text);
        bool signatureVerified = false;
        if (request.CertificatePath is not null)
        {
            using X509Certificate2 cert = KeyFiles.LoadCertificate(request.CertificatePath, "certificate");
            if (!ManifestSignature.Verify(text, manifest.Signature, cert))
            {
                throw new BundleException(BundleErrorKind.InvalidBundle,
                    $"the manifest signature does not verify against certificate '{request.CertificatePath}'; the manifest was altered or signed by another key");
            }

            signatureVerified = true;
        }

        (BundleKey key, string keyPair) = DecryptKey(manifest, request.PrivateKeyPath);
        using (key)
        {
            await CheckPartsAsync(manifest, request.Parts, ct).ConfigureAwait(false);
            string? destination = request.DestinationDirectory;
            if (destination is not null && !Directory.Exists(destination))
            {
                throw new BundleException(BundleErrorKind.FileNotFound, $"destination directory '{destination}' does not exist");
            }

            string? partialPath = null;
            try
            {
                ExtractedMember member = await DecodeAsync(manifest, key, request.Parts, name =>
                {
                    if (destination is null)
                    {
                        return new DiscardingExtractTarget();
                    }

                    partialPath = Path.Combine(destination, $".{name}.{Guid.NewGuid():N}.partial");
                    return new SparseFileExtractTarget(partialPath);
                }, ct).ConfigureAwait(false);

                string? output = null;
                if (partialPath is not null)
                {
                    output = Path.Combine(destination!, member.Name);
                    File.Move(partialPath, output, overwrite: true);
                    partialPath = null;
                }

                return new UnbundleResult(member.Name, output, member.Size, manifest.Image.Parts.Count, member.Sparse, signatureVerified, keyPair);
            }
            finally
            {
                if (partialPath is not null)
                {
                    File.Delete(partialPath);
                }
            }
        }
    }

    private static (BundleKey Key, string Pair) DecryptKey(BundleManifest manifest, string privateKeyPath)
    {
        using RSA privateKey = KeyFiles.LoadPrivateKey(privateKeyPath);
        ImageDescription im = manifest.Image;
        if (KeyWrapping.TryUnwrap(im.UserEncryptedKey, privateKey) is { } userKey
            && KeyWrapping.TryUnwrap(im.UserEncryptedIv, privateKey) is { } userIv)
        {
            return (BundleKey.FromHex(userKey, userIv), "user");
        }

        if (KeyWrapping.TryUnwrap(im.Ec2EncryptedKey, privateKey) is { } cloudKey
            && KeyWrapping.TryUnwrap(im.Ec2EncryptedIv, privateKey) is { } cloudIv)
        {
            return (BundleKey.FromHex(cloudKey, cloudIv), "cloud");
        }

        throw new BundleException(BundleErrorKind.KeyMismatch,
            $"private key '{privateKeyPath}' cannot decrypt the bundle key (neither the user nor the cloud pair); it is not the key this bundle was made for");
    }

    private static async Task CheckPartsAsync(BundleManifest manifest, IPartSource parts, CancellationToken ct)
    {
        long total = 0;
        foreach (ManifestPart part in manifest.Image.Parts)
        {
            long length = await parts.GetLengthAsync(part.FileName, ct).ConfigureAwait(false)
                ?? throw new BundleException(BundleErrorKind.FileNotFound, $"bundle part '{part.FileName}' does not exist in {parts.Describe()}");
            total += length;
        }

        long declared = manifest.Image.BundledSize;
        if (declared >= 0 && declared != total)
        {
            throw BundleException.InvalidBundle(
                $"the parts hold {total} bytes but the manifest's bundled_size is {declared}; a part is truncated, padded or from another bundle");
        }

        if (total == 0 || total % 16 != 0)
        {
            throw BundleException.InvalidBundle($"the parts hold {total} bytes, not a whole number of AES blocks; a part is truncated");
        }
    }

    private static async Task<ExtractedMember> DecodeAsync(BundleManifest manifest, BundleKey key, IPartSource source,
        Func<string, IExtractTarget> openTarget, CancellationToken ct)
    {
        long size = manifest.Image.Size;
        // The tar stream is the image plus headers, padding and (for sparse members) maps; allow generous slack, no more.
        long tarLimit = size + Math.Max(16L << 20, size / 8);
        using var parts = new PartSequenceStream(manifest.Image.Parts, p => source.Open(p.FileName));
        using Aes aes = Aes.Create();
        aes.Key = key.Key.ToArray();
        aes.IV = key.Iv.ToArray();
        aes.Mode = CipherMode.CBC;
        aes.Padding = PaddingMode.PKCS7;
        try
        {
            await using var plain = new CryptoStream(parts, aes.CreateDecryptor(), CryptoStreamMode.Read, leaveOpen: true);
            await using var gunzip = new GZipStream(plain, CompressionMode.Decompress, leaveOpen: true);
            await using var tar = new DigestingReadStream(gunzip, tarLimit,
                $"the bundle decompresses to more than the manifest's image size of {size} bytes allows; the manifest's size is wrong or the bundle is hostile");
            ExtractedMember member = await TarMemberExtractor.ExtractAsync(tar, openTarget, size, ct).ConfigureAwait(false);
            await tar.CopyToAsync(Stream.Null, ct).ConfigureAwait(false); // anything after the end blocks is digested too
            await plain.CopyToAsync(Stream.Null, ct).ConfigureAwait(false);

            string digest = tar.Sha1Hex();
            if (!string.Equals(digest, manifest.Image.DigestSha1Hex, StringComparison.OrdinalIgnoreCase))
            {
                throw BundleException.InvalidBundle(
                    $"the bundle's tar stream digest differs from the manifest (expected SHA-1 {manifest.Image.DigestSha1Hex}, actual {digest})");
            }

            if (member.Size != size)
            {
                throw BundleException.InvalidBundle($"the manifest says the image is {size} bytes but the bundle holds {member.Size}");
            }

            return member;
        }
        catch (Exception ex) when (ex is CryptographicException or InvalidDataException or EndOfStreamException
                                   || (ex is BundleException && !ex.Message.StartsWith("bundle part", StringComparison.Ordinal)))
        {
            // A corrupt part shows up downstream first (bad padding, bad deflate data); name the part if that is the cause.
            await parts.ThrowIfCurrentPartCorruptAsync(ct).ConfigureAwait(false);
            if (ex is BundleException)
            {
                throw;
            }

            throw BundleException.InvalidBundle($"the bundle cannot be decoded ({ex.Message}); it is corrupt or was encrypted with another key");
        }
    }
}
