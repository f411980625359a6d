using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace BundleCluster.Format;

/// <summary>
/// Every file or key name a bundle and its staging use, in one place: the manifest, the parts (as ec2-ami-tools
/// names and sizes them) and a job's staging area inside a destination.
/// </summary>
public static partial class BundleFileNames
{
    /// <summary>Every part but the last is exactly 10 MiB (ec2-ami-tools bundle.rb CHUNK_SIZE).</summary>
    public const int PartSize = 10 * 1024 * 1024;

    /// <summary>What every staging area's name starts with (a hidden directory, or an S3 key prefix).</summary>
    public const string StagingPrefix = ".bundlecluster-";

    /// <summary><c>&lt;prefix&gt;.manifest.xml</c>.</summary>
    public static string Manifest(string prefix) => prefix + ".manifest.xml";

    /// <summary>
    /// <c>&lt;prefix&gt;.part.&lt;i&gt;</c>, i zero-padded to the number of decimal digits in the part count
    /// (ec2-ami-tools fileutil.rb FileUtil.split: 1-9 parts → .part.0, 10-99 → .part.00, …).
    /// </summary>
    public static string Part(string prefix, int index, int partCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Math.Max(partCount, 1));
        int digits = partCount.ToString(CultureInfo.InvariantCulture).Length;
        return $"{prefix}.part.{index.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0')}";
    }

    /// <summary>
    /// The staging area of a job. The job id comes from the client (it is the idempotency key when one is given), so
    /// it is never used as a path: a plain id names the staging as it is (an operator can tell whose it is); any
    /// other id — "../../home", "a/b", a space — is replaced by a hash of it, the same on every silo.
    /// </summary>
    public static string Staging(string jobId) =>
        StagingPrefix + (PlainId().IsMatch(jobId)
            ? jobId
            : "h" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(jobId)))[..32]);

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex PlainId();
}
