using Amazon.Runtime;
using Amazon.S3;

namespace BundleCluster.Storage.S3;

/// <summary>
/// How to reach S3 or an S3-compatible store. Credentials always come from the SDK's default chain (environment,
/// profiles, web identity in Kubernetes); the instance-metadata endpoint is never probed when an endpoint URL is given.
/// </summary>
/// <param name="EndpointUrl">An S3-compatible endpoint (path-style addressing is used with it); null for AWS.</param>
/// <param name="Region">The region (default: the SDK's, else us-east-1).</param>
/// <param name="Acl">Canned ACL for parts and manifest: aws-exec-read (ec2-upload-bundle's default), public-read, …; "none" sends no ACL (buckets with ACLs disabled).</param>
/// <param name="PlainBodies">Compatibility: plain request bodies with Content-MD5 and checksums only when required, for stores that do not understand the SDK's streaming checksums.</param>
/// <param name="Retries">Retries per request (exponential backoff with jitter) for 5xx, SlowDown, timeouts and resets.</param>
public sealed record S3Settings(string? EndpointUrl = null, string? Region = null, string Acl = "aws-exec-read", bool PlainBodies = false, int Retries = 5)
{
    public static S3Settings Default { get; } = new();

    /// <summary>The canned ACLs S3 defines (PutObject x-amz-acl), and "none" for buckets with ACLs disabled.</summary>
    public static readonly IReadOnlyList<string> Acls =
    [
        "private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read", "bucket-owner-read",
        "bucket-owner-full-control", "log-delivery-write", "none",
    ];

    /// <summary>
    /// Refuses, before any byte moves, a setting the store would only reject mid-job (an unknown ACL on the first part
    /// upload) or that could never connect — one line naming the setting.
    /// </summary>
    /// <exception cref="Format.Errors.BundleException">InvalidParameter.</exception>
    public S3Settings Validate()
    {
        if (EndpointUrl is not null && !(Uri.TryCreate(EndpointUrl, UriKind.Absolute, out Uri? endpoint) && endpoint.Scheme is "http" or "https"))
        {
            throw Format.Errors.BundleException.InvalidParameter($"S3 endpoint URL '{EndpointUrl}' is not an absolute http:// or https:// URL");
        }

        if (!Acls.Contains(Acl, StringComparer.OrdinalIgnoreCase))
        {
            throw Format.Errors.BundleException.InvalidParameter($"S3 ACL '{Acl}' is not one of {string.Join(", ", Acls)}");
        }

        // S3-compatible stores name their regions freely; AWS itself only has the regions the SDK knows.
        if (Region is not null && (Region.Length == 0 || Region.Any(char.IsWhiteSpace)
            || (EndpointUrl is null && !Amazon.RegionEndpoint.EnumerableAllRegions.Any(r => r.SystemName == Region))))
        {
            throw Format.Errors.BundleException.InvalidParameter($"S3 region '{Region}' is not an AWS region (like us-east-1; any name goes with --endpoint-url)");
        }

        if (Retries is < 0 or > 20)
        {
            throw Format.Errors.BundleException.InvalidParameter($"S3 retries {Retries} is not 0-20");
        }

        return this;
    }

    public AmazonS3Client CreateClient()
    {
        var config = new AmazonS3Config { MaxErrorRetry = Retries, RetryMode = RequestRetryMode.Standard };
        if (EndpointUrl is not null)
        {
            Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
            config.ServiceURL = EndpointUrl;
            config.ForcePathStyle = true;
            config.AuthenticationRegion = Region ?? "us-east-1";
        }

        if (Region is not null)
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(Region);
            if (EndpointUrl is not null)
            {
                config.ServiceURL = EndpointUrl; // setting the region reset it
            }
        }

        if (PlainBodies)
        {
            config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
            config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
        }

        return new AmazonS3Client(config);
    }

    public S3CannedACL? CannedAcl => string.Equals(Acl, "none", StringComparison.OrdinalIgnoreCase) ? null : S3CannedACL.FindValue(Acl);
}
