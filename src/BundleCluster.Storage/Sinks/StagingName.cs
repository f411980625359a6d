using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace BundleCluster.Storage.Sinks;

/// <summary>
/// The name of a job's staging area inside a destination (a hidden directory, or an S3 key prefix). The job id comes
/// from the client (it is the idempotency key when one is given), so it is never used as a path: a plain id names the
/// staging as it is (an operator can tell whose it is); any other id — "../../home", "a/b", a space — is replaced by a
/// hash of it, the same on every silo.
/// </summary>
public static partial class StagingName
{
    public const string Prefix = ".bundlecluster-";

    public static string For(string jobId) =>
        Prefix + (PlainId().IsMatch(jobId)
            ? jobId
            : "h" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(jobId)))[..32]);

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex PlainId();
}
