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
