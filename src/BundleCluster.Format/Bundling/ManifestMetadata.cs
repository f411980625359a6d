using BundleCluster.Format.Errors;
using BundleCluster.Format.Manifest;

namespace BundleCluster.Format.Bundling;

/// <summary>
/// What the user says about the image for its manifest, validated as ec2-ami-tools does (bundleparameters.rb) but
/// stricter where that tool is sloppy: the account must be exactly 12 digits once hyphens are removed.
/// </summary>
public sealed record ManifestMetadata(
    string Architecture,
    string User,
    IReadOnlyList<BlockDeviceMapping> BlockDeviceMappings,
    string? KernelId,
    string? RamdiskId,
    IReadOnlyList<string> ProductCodes,
    string ImageType = "machine")
{
    /// <summary>ec2-ami-tools takes i386 and x86_64; euca2ools adds these ARM and POWER names.</summary>
    public static readonly IReadOnlyList<string> Architectures = ["i386", "x86_64", "armhf", "ppc", "ppc64", "ppc64le"];

    public static ManifestMetadata Create(string? architecture, string? user, string? blockDeviceMappings,
        string? kernelId, string? ramdiskId, string? productCodes) =>
        new(ValidateArchitecture(architecture ?? "x86_64"), NormalizeAccount(user),
            ParseMappings(blockDeviceMappings), Blank(kernelId), Blank(ramdiskId), ParseProductCodes(productCodes));

    public static string ValidateArchitecture(string architecture) =>
        Architectures.Contains(architecture)
            ? architecture
            : throw BundleException.InvalidParameter($"architecture '{architecture}' is not one of {string.Join(", ", Architectures)}");

    /// <summary>The 12-digit AWS account number with hyphens removed.</summary>
    public static string NormalizeAccount(string? user)
    {
        string digits = (user ?? "").Replace("-", "", StringComparison.Ordinal).Trim();
        if (digits.Length != 12 || digits.AsSpan().ContainsAnyExceptInRange('0', '9'))
        {
            throw BundleException.InvalidParameter(
                $"user '{user}' is not a 12-digit AWS account number (hyphens allowed); it is not your access key ID");
        }

        return digits;
    }

    /// <summary>"virtual=device,…" as -B takes it, e.g. "ami=sda1,root=/dev/sda1,ephemeral0=sda2".</summary>
    public static IReadOnlyList<BlockDeviceMapping> ParseMappings(string? text)
    {
        var mappings = new List<BlockDeviceMapping>();
        foreach (string item in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] pair = item.Split('=', 2, StringSplitOptions.TrimEntries);
            if (pair.Length != 2 || pair[0].Length == 0 || pair[1].Length == 0)
            {
                throw BundleException.InvalidParameter($"block device mapping '{item}' is not of the form virtual=device (e.g. ami=sda1)");
            }

            if (mappings.Any(m => m.Virtual == pair[0]))
            {
                throw BundleException.InvalidParameter($"block device mapping names virtual device '{pair[0]}' twice");
            }

            mappings.Add(new BlockDeviceMapping(pair[0], pair[1]));
        }

        return mappings;
    }

    /// <summary>
    /// Comma-separated codes, one element each (as euca2ools writes them; ec2-ami-tools writes the unsplit string into
    /// a single element, which no consumer is known to split).
    /// </summary>
    public static IReadOnlyList<string> ParseProductCodes(string? text) =>
        (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
