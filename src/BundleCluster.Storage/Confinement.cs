using BundleCluster.Format.Errors;
using BundleCluster.Storage.S3;
using BundleCluster.Storage.Sources;

namespace BundleCluster.Storage;

/// <summary>
/// Where a job may read or write: directory roots (checked after resolving every link, <see cref="AllowedRoots"/>) and
/// <c>s3://bucket/prefix</c> prefixes. A silo applies its operator's, and on top of them a tenant's (bundle-api). An
/// empty list of one kind allows none of that kind when the other kind is configured, and everything when neither is
/// (an unconfined, embedded silo).
/// </summary>
public sealed record Confinement(IReadOnlyList<string> Roots, IReadOnlyList<string> S3Prefixes)
{
    public static Confinement None { get; } = new([], []);

    public bool IsConfined => Roots.Count > 0 || S3Prefixes.Count > 0;

    /// <summary>Splits entries that may be either kind (a tenant's "images" or "destinations") by their form.</summary>
    public static Confinement Of(IEnumerable<string> entries)
    {
        List<string> all = [.. entries];
        return new Confinement([.. all.Where(e => !S3Location.IsS3(e))], [.. all.Where(S3Location.IsS3)]);
    }

    /// <summary>Throws unless <paramref name="location"/> is inside this confinement (a path is checked by name here;
    /// files that are read are checked again as opened).</summary>
    public void Require(string location, string what)
    {
        if (!IsConfined)
        {
            return;
        }

        switch (StorageLocation.From(location))
        {
            case S3Location s3 when !S3Prefixes.Any(prefix => Covers(S3Location.Parse(prefix), s3)):
                throw BundleException.InvalidParameter(
                    $"{what} '{location}' is outside the S3 prefixes this cluster may use ({Describe(S3Prefixes)}); ask the operator or move it");
            case FileLocation file when Roots.Count == 0:
                throw BundleException.InvalidParameter($"{what} '{file.Path}' is a path, and this cluster may only use S3 ({Describe(S3Prefixes)})");
            case FileLocation file:
                AllowedRoots.Require(file.Path, Roots, what);
                break;
        }
    }

    /// <summary>A prefix covers keys under it as a folder: s3://b/team covers s3://b/team/x but not s3://b/teammate.</summary>
    private static bool Covers(S3Location prefix, S3Location location)
    {
        if (prefix.Bucket != location.Bucket)
        {
            return false;
        }

        string folder = prefix.KeyPrefix.TrimEnd('/');
        return folder.Length == 0 || location.KeyPrefix == folder || location.KeyPrefix.StartsWith(folder + "/", StringComparison.Ordinal);
    }

    private static string Describe(IReadOnlyList<string> entries) => entries.Count == 0 ? "none" : string.Join(", ", entries);
}
