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
    string? CertificatePath = null,
    bool Overwrite = false);

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
    /// <summary>Deflate cannot expand data more than 1032:1 (RFC 1951 stored/fixed limits), so a size above this is a lie.</summary>
    private const long MaxDeflateRatio = 1032;

    public static async Task<UnbundleResult> RunAsync(UnbundleRequest request, CancellationToken ct = default)
    {
        BundleManifest manifest = ManifestReader.ReadFile(request.ManifestPath);
        bool signatureVerified = false;
        if (request.CertificatePath is not null)
        {
            using X509Certificate2 cert = KeyFiles.LoadCertificate(request.CertificatePath, "certificate");
            if (!ManifestSignature.Verify(manifest, cert))
            {
                throw new BundleException(BundleErrorKind.InvalidBundle,
                    $"the manifest signature does not verify against certificate '{request.CertificatePath}'; the manifest was altered or signed by another key");
            }

            signatureVerified = true;
        }

        string? output = request.DestinationDirectory is { } destination ? OutputPath(destination, manifest, request.Overwrite) : null;
        (BundleKey key, string keyPair) = DecryptKey(manifest, request.PrivateKeyPath);
        using (key)
        {
            IReadOnlyList<long> lengths = await CheckPartsAsync(manifest, request.Parts, ct).ConfigureAwait(false);
            string? partialPath = null;
            try
            {
                ExtractedMember member = await DecodeAsync(manifest, key, request.Parts, lengths, name =>
                {
                    if (name != manifest.Image.Name)
                    {
                        // euca2ools names the output after <image><name>; a bundle naming its member otherwise is
                        // trying to write a file the manifest does not admit to (a .bashrc into a home directory).
                        throw BundleException.InvalidBundle(
                            $"the tar member is named '{name}' but the manifest's image is '{manifest.Image.Name}'; a bundle holds its image under its own name");
                    }

                    if (output is null)
                    {
                        return new DiscardingExtractTarget();
                    }

                    partialPath = Path.Combine(Path.GetDirectoryName(output)!, $".{name}.{Guid.NewGuid():N}.partial");
                    return new SparseFileExtractTarget(partialPath);
                }, ct).ConfigureAwait(false);

                if (partialPath is not null)
                {
                    Publish(partialPath, output!, request.Overwrite);
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

    /// <summary>Where the image will be written: checked before any work, so a refused run costs nothing.</summary>
    private static string OutputPath(string destination, BundleManifest manifest, bool overwrite)
    {
        if (File.Exists(destination))
        {
            throw BundleException.InvalidParameter($"destination '{destination}' is a file, not a directory");
        }

        if (!Directory.Exists(destination))
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"destination directory '{destination}' does not exist");
        }

        string output = Path.Combine(Path.GetFullPath(destination), manifest.Image.Name);
        if (Directory.Exists(output))
        {
            throw BundleException.InvalidParameter($"'{output}' is a directory; the image '{manifest.Image.Name}' cannot be restored over it");
        }

        if (!overwrite && Exists(output))
        {
            throw BundleException.InvalidParameter($"'{output}' already exists; remove it or pass --overwrite to replace it");
        }

        return output;
    }

    /// <summary>A file, or a symbolic link even if it dangles.</summary>
    private static bool Exists(string path) => File.Exists(path) || new FileInfo(path).LinkTarget is not null;

    /// <summary>
    /// Moves the finished image into place. With --overwrite, rename(2) replaces a symbolic link rather than writing
    /// through it; without, the move refuses any name that exists by then (link(2) semantics), so a file that appeared
    /// meanwhile is kept and the run fails.
    /// </summary>
    private static void Publish(string partialPath, string output, bool overwrite)
    {
        try
        {
            File.Move(partialPath, output, overwrite);
        }
        catch (IOException) when (!overwrite && Exists(output))
        {
            throw BundleException.InvalidParameter($"'{output}' appeared while the bundle was restored; it was kept (pass --overwrite to replace it)");
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

    /// <summary>Every part exists, is a plausible part, and together they are the bundle the manifest describes.</summary>
    private static async Task<IReadOnlyList<long>> CheckPartsAsync(BundleManifest manifest, IPartSource parts, CancellationToken ct)
    {
        var lengths = new List<long>(manifest.Image.Parts.Count);
        long total = 0;
        foreach (ManifestPart part in manifest.Image.Parts)
        {
            ct.ThrowIfCancellationRequested();
            long length = await parts.GetLengthAsync(part.FileName, ct).ConfigureAwait(false)
                ?? throw new BundleException(BundleErrorKind.FileNotFound, $"bundle part '{part.FileName}' does not exist in {parts.Describe()}");
            if (length > IPartSource.MaxPartLength)
            {
                throw IPartSource.TooLarge(part.FileName, length);
            }

            lengths.Add(length);
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

        if (manifest.Image.Size / MaxDeflateRatio > total)
        {
            throw BundleException.InvalidBundle(
                $"the manifest says the image is {manifest.Image.Size} bytes, more than {total} bytes of parts can hold (deflate expands at most {MaxDeflateRatio}:1)");
        }

        return lengths;
    }

    /// <summary>The layers after every part was checked: CBC, gzip, tar and the digests (internal: the fuzz harness drives it).</summary>
    internal static async Task<ExtractedMember> DecodeAsync(BundleManifest manifest, BundleKey key, IPartSource source,
        IReadOnlyList<long> lengths, Func<string, IExtractTarget> openTarget, CancellationToken ct)
    {
        long size = manifest.Image.Size;
        // The tar stream is the image plus headers, padding and (for sparse members) maps; allow generous slack, no
        // more. The size is bounded by the parts (CheckPartsAsync), so this cannot overflow.
        long tarLimit = size + Math.Max(16L << 20, size / 8);
        using var parts = new PartSequenceStream(manifest.Image.Parts, (p, token) => source.OpenAsync(p.FileName, lengths[p.Index], token));
        using Aes aes = Aes.Create();
        aes.Key = key.Key.ToArray();
        aes.IV = key.Iv.ToArray();
        aes.Mode = CipherMode.CBC;
        aes.Padding = PaddingMode.PKCS7;
        try
        {
            await using var decrypted = new CryptoStream(parts, aes.CreateDecryptor(), CryptoStreamMode.Read, leaveOpen: true);
            await using var plain = new TailKeepingStream(decrypted);
            await using var gunzip = new GZipStream(plain, CompressionMode.Decompress, leaveOpen: true);
            await using var tar = new DigestingReadStream(gunzip, tarLimit,
                $"the bundle decompresses to more than the manifest's image size of {size} bytes allows; the manifest's size is wrong or the bundle is hostile");
            ExtractedMember member = await TarMemberExtractor.ExtractAsync(tar, openTarget, size, ct).ConfigureAwait(false);
            await tar.CopyToAsync(Stream.Null, ct).ConfigureAwait(false); // anything after the end blocks is digested too
            await plain.CopyToAsync(Stream.Null, ct).ConfigureAwait(false);
            if (!plain.EndsWithTrailer(tar.Crc32, tar.BytesRead))
            {
                throw BundleException.InvalidBundle(
                    "the gzip stream does not end with the trailer of the data it holds (a missing trailer, trailing bytes, a second member or an extra padding block); gunzip refuses it too");
            }

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
