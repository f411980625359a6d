namespace BundleCluster.Format.Manifest;

/// <summary>A manifest of version 2007-10-10: what the bundle holds, how it is keyed, and its parts.</summary>
public sealed record BundleManifest(
    BundlerInfo Bundler,
    MachineConfiguration Machine,
    ImageDescription Image,
    string Signature)
{
    public const string FormatVersion = "2007-10-10";

    /// <summary>
    /// For a manifest that was read: the exact text the signature covers, cut from the positions of the real
    /// <c>&lt;machine_configuration&gt;</c> and <c>&lt;image&gt;</c> elements the values were parsed from.
    /// </summary>
    public string SignedText { get; init; } = "";
}

/// <summary>Who wrote the bundle. No consumer is known to read it; we name ourselves honestly.</summary>
public sealed record BundlerInfo(string Name, string Version, string Release)
{
    public static BundlerInfo BundleCluster { get; } = new("bundlecluster", "1.0", "0");
}

public sealed record BlockDeviceMapping(string Virtual, string Device);

public sealed record MachineConfiguration(
    string Architecture,
    IReadOnlyList<BlockDeviceMapping> BlockDeviceMappings,
    string? KernelId,
    string? RamdiskId,
    IReadOnlyList<string> ProductCodes);

public sealed record ManifestPart(int Index, string FileName, string Sha1Hex);

public sealed record ImageDescription(
    string Name,
    string User,
    string Type,
    string? KernelName,
    IReadOnlyList<string> Ancestry,
    string DigestSha1Hex,
    long Size,
    long BundledSize,
    string Ec2EncryptedKey,
    string UserEncryptedKey,
    string Ec2EncryptedIv,
    string UserEncryptedIv,
    IReadOnlyList<ManifestPart> Parts);
