using BundleCluster.Format.Errors;

namespace BundleCluster.Storage.S3;

/// <summary>
/// An <c>s3://bucket/prefix</c> location, split as ec2-upload-bundle splits -b (s3toolparameters.rb split_container):
/// bucket up to the first '/', the rest a key prefix with leading/trailing slashes trimmed and one '/' appended.
/// </summary>
public sealed record S3Location(string Bucket, string KeyPrefix) : StorageLocation
{
    public const string Scheme = "s3://";

    /// <summary>Whether the text has the s3:// scheme; everything else goes through <see cref="StorageLocation.From"/>.</summary>
    public static bool IsS3(string location) => location.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase);

    public static S3Location Parse(string location)
    {
        if (!IsS3(location))
        {
            throw BundleException.InvalidParameter($"'{location}' is not an s3:// location (expected s3://BUCKET[/PREFIX])");
        }

        string rest = location[Scheme.Length..];
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        string bucket = slash < 0 ? rest : rest[..slash];
        string prefix = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
        if (!IsValidBucketName(bucket))
        {
            throw BundleException.InvalidParameter(
                $"'{location}' does not name a valid bucket ('{bucket}': 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit)");
        }

        if (prefix.Contains("//", StringComparison.Ordinal))
        {
            throw BundleException.InvalidParameter($"'{location}' has an empty path segment ('//'); EC2 cannot register a manifest URL with one");
        }

        return new S3Location(bucket, prefix.Length == 0 ? "" : prefix + "/");
    }

    public string Key(string name) => KeyPrefix + name;

    public override string ToString() => $"{Scheme}{Bucket}/{KeyPrefix}";

    private static readonly System.Buffers.SearchValues<char> BucketChars = System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789.-");

    private static bool IsValidBucketName(string bucket) =>
        bucket.Length is >= 3 and <= 63
        && !bucket.AsSpan().ContainsAnyExcept(BucketChars)
        && char.IsAsciiLetterOrDigit(bucket[0]) && char.IsAsciiLetterOrDigit(bucket[^1]);
}
