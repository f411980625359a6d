using System.Net;
using Amazon.S3;
using BundleCluster.Format.Errors;

namespace BundleCluster.Storage.S3;

/// <summary>One clear line for the S3 errors a user can fix.</summary>
public static class S3Errors
{
    public static BundleException Explain(AmazonS3Exception ex, S3Location location) => ex.ErrorCode switch
    {
        "NoSuchBucket" => new BundleException(BundleErrorKind.FileNotFound, $"bucket '{location.Bucket}' does not exist (or is not in this region/endpoint)", ex),
        "NoSuchKey" => new BundleException(BundleErrorKind.FileNotFound, $"{location} has no object {ex.Message}", ex),
        "AccessDenied" or "InvalidAccessKeyId" or "SignatureDoesNotMatch" =>
            BundleException.InvalidParameter($"access to {location} was denied ({ex.ErrorCode}); check the credentials and the bucket policy"),
        "AccessControlListNotSupported" => BundleException.InvalidParameter($"bucket '{location.Bucket}' has ACLs disabled; pass --acl none"),
        "PermanentRedirect" or "AuthorizationHeaderMalformed" => BundleException.InvalidParameter($"bucket '{location.Bucket}' is in another region; pass --region"),
        _ when ex.StatusCode == HttpStatusCode.NotFound => new BundleException(BundleErrorKind.FileNotFound, $"{location}: not found ({ex.ErrorCode})", ex),
        _ => new BundleException(BundleErrorKind.Failed, $"S3 request to {location} failed: {ex.ErrorCode} {ex.Message}", ex),
    };
}
