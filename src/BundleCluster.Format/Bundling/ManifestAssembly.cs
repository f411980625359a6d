using BundleCluster.Format.Manifest;
using BundleCluster.Format.Parts;

namespace BundleCluster.Format.Bundling;

/// <summary>Puts a finished bundle's facts together into its (unsigned) manifest.</summary>
public static class ManifestAssembly
{
    public static BundleManifest Build(string prefix, ManifestMetadata metadata, long imageSize, string tarDigestHex,
        SealResult seal, WrappedBundleKey key)
    {
        int count = seal.Parts.Count;
        var parts = seal.Parts
            .Select(p => new ManifestPart(p.Index, BundleFileNames.Part(prefix, p.Index, count), p.Sha1Hex))
            .ToList();
        var machine = new MachineConfiguration(metadata.Architecture, metadata.BlockDeviceMappings, metadata.KernelId,
            metadata.RamdiskId, metadata.ProductCodes);
        var image = new ImageDescription(prefix, metadata.User, metadata.ImageType, KernelName: null, Ancestry: [],
            tarDigestHex, imageSize, seal.BundledSize, key.Ec2EncryptedKey, key.UserEncryptedKey, key.Ec2EncryptedIv,
            key.UserEncryptedIv, parts);
        return new BundleManifest(BundlerInfo.BundleCluster, machine, image, Signature: "");
    }
}
