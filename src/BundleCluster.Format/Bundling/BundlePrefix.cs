using BundleCluster.Format.Errors;
using BundleCluster.Format.Manifest;

namespace BundleCluster.Format.Bundling;

/// <summary>The bundle prefix: names the tar member, the manifest and the parts.</summary>
public static class BundlePrefix
{
    /// <summary>The given prefix, or the image file's base name (ec2-ami-tools bundle.rb), validated.</summary>
    public static string Resolve(string? prefix, string imagePath)
    {
        string value = string.IsNullOrEmpty(prefix) ? Path.GetFileName(imagePath.TrimEnd('/')) : prefix;
        // ec2-ami-tools refuses a prefix with '/' (parameters_base.rb assert_good_key); names must also stay printable.
        if (!ManifestReader.IsBareFileName(value) || value.Any(char.IsControl) || value.StartsWith('.') || value.Length > 200)
        {
            throw BundleException.InvalidParameter(
                $"prefix '{value}' is not usable: it must be a file name of at most 200 characters without '/', control characters or a leading '.'");
        }

        return value;
    }
}
