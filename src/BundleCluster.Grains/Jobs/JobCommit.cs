using System.Security.Cryptography;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Format.Bundling;
using BundleCluster.Format.Incremental;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Manifest;
using BundleCluster.Format.Parts;
using BundleCluster.Grains.Hosting;
using BundleCluster.Storage.Sinks;
using BundleCluster.Storage.Sources;

namespace BundleCluster.Grains.Jobs;

/// <summary>
/// The last step of a job, once the digest and the sealed parts are in: cross-check the tar stream the two stages
/// read, assemble the manifest, sign it with the key file validated at preparation, and commit — parts into place,
/// then the slice index (signed with the same key: the baseline of the next incremental build), manifest last. Key
/// loading and signing run on the thread pool, not on the job grain's turn.
/// </summary>
internal static class JobCommit
{
    /// <summary>Commits the bundle and returns where its manifest now is.</summary>
    public static async Task<string> CommitAsync(BundleJobRecord job, IBundleSink sink, BundleClusterOptions options, CancellationToken ct)
    {
        BundleJobSpec spec = job.Spec!;
        ImageSlicePlan plan = job.Plan!;
        SealOutcome sealedParts = job.Sealed!;
        TarStreamDigest.RequireSameBytes(job.TarCrc32 ?? sealedParts.TarCrc32, sealedParts.TarCrc32, $"image '{spec.ImagePath}'");
        ManifestMetadata metadata = ManifestMetadata.Create(spec.Architecture, spec.User, spec.BlockDeviceMappings,
            spec.KernelId, spec.RamdiskId, spec.ProductCodes);
        var seal = new SealResult(
            sealedParts.Parts.Select(p => new PartRecord(p.Index, p.Length, p.Sha1Hex)).ToList(),
            sealedParts.BundledSize, sealedParts.GzipLength, plan.TarLength);
        var key = new WrappedBundleKey(job.Ec2EncryptedKey!, job.UserEncryptedKey!, job.Ec2EncryptedIv!, job.UserEncryptedIv!);
        BundleManifest manifest = ManifestAssembly.Build(plan.MemberName, metadata, plan.ImageSize, job.TarDigest!, seal, key);
        string manifestName = Format.BundleFileNames.Manifest(plan.MemberName);
        (string text, byte[]? index) = await Task.Run(() =>
        {
            // The key file must still be the one validated at preparation: a swapped link must not turn the silo into
            // a signing service for some other key it can read.
            using RSA signingKey = KeyFiles.LoadPrivateKey(spec.PrivateKeyPath, f =>
            {
                AllowedRoots.RequireOpened(f, options.KeyFileRoots(), "private key");
                f.RequireIdentity(job.PrivateKeyVersion ?? f.Identity.ToString(), "private key");
            });
            return (ManifestWriter.WriteSigned(manifest, signingKey), IndexOf(sealedParts, plan, job.TarDigest!, signingKey));
        }, ct);

        IReadOnlyList<BundleSidecar> sidecars = index is null ? [] : [new BundleSidecar(SliceIndex.FileName(manifestName), index)];
        await sink.CommitAsync(manifestName, manifest.Image.Parts.Select(p => p.FileName).ToList(), text, sidecars, ct);
        return Storage.StorageLocation.From(spec.Destination) switch
        {
            Storage.S3.S3Location bucket => bucket + manifestName,
            var directory => Path.Combine(Path.GetFullPath(directory.ToString()), manifestName),
        };
    }

    /// <summary>
    /// The signed slice index, when the sealer knows every slice (a sealer resumed from an older checkpoint may not) and
    /// its records add up to the sealed stream. Without one the bundle is as good; it just cannot be a baseline.
    /// </summary>
    private static byte[]? IndexOf(SealOutcome sealedParts, ImageSlicePlan plan, string tarDigest, RSA signingKey)
    {
        if (sealedParts.Slices is not { } slices || slices.Count != plan.SliceCount || slices.Any(s => s.Sha256.Length == 0))
        {
            return null;
        }

        SliceIndex index = SliceIndex.Build(plan.SliceSize, plan.CompressionLevel, plan.TarLength, tarDigest,
            sealedParts.Parts.Select(p => p.Sha1Hex).ToList(), slices.Select(s => (s.Sha256, s.CompressedLength, s.Crc32, s.InputLength)));
        return index.GzipLength == sealedParts.GzipLength ? SliceIndexFile.Write(index, signingKey) : null;
    }
}
