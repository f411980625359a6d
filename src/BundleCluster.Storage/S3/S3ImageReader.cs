using System.Net;
using Amazon.S3;
using Amazon.S3.Model;
using BundleCluster.Format;
using BundleCluster.Format.Errors;

namespace BundleCluster.Storage.S3;

/// <summary>
/// An image in a bucket, read with ranged GETs (each chunk worker reads only its slice; the digest streams it once).
/// The object's ETag is pinned when the job is planned and every read sends If-Match, so an object overwritten
/// mid-job fails the job instead of mixing two versions into one bundle.
/// </summary>
public sealed class S3ImageReader : IImageReader
{
    private readonly AmazonS3Client _client;
    private readonly string _bucket;
    private readonly string _key;

    private S3ImageReader(AmazonS3Client client, string bucket, string key, long length, string etag, DateTime lastModified)
    {
        _client = client;
        _bucket = bucket;
        _key = key;
        Length = length;
        Version = etag;
        LastModifiedUtc = lastModified;
    }

    public long Length { get; }

    /// <summary>The object's ETag, pinned for the job.</summary>
    public string Version { get; }

    public DateTime LastModifiedUtc { get; }

    public static async Task<S3ImageReader> OpenAsync(string uri, S3Settings settings, string? expectedVersion, CancellationToken ct)
    {
        S3Location location = S3Location.Parse(uri);
        string key = location.KeyPrefix.TrimEnd('/');
        if (key.Length == 0)
        {
            throw BundleException.InvalidParameter($"image '{uri}' names a bucket, not an object (expected s3://BUCKET/KEY)");
        }

        AmazonS3Client client = settings.CreateClient();
        try
        {
            GetObjectMetadataResponse head = await client.GetObjectMetadataAsync(location.Bucket, key, ct);
            string etag = head.ETag ?? "";
            if (expectedVersion is not null && expectedVersion != etag)
            {
                throw new BundleException(BundleErrorKind.Failed,
                    $"image '{uri}' was overwritten while it was being bundled (ETag {expectedVersion} is now {etag}); the bundle would mix two versions");
            }

            return new S3ImageReader(client, location.Bucket, key, head.ContentLength, etag, head.LastModified?.ToUniversalTime() ?? DateTime.UnixEpoch);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && ex.ErrorCode != "NoSuchBucket")
        {
            client.Dispose();
            throw new BundleException(BundleErrorKind.FileNotFound, $"image '{uri}' does not exist", ex);
        }
        catch (AmazonS3Exception ex)
        {
            client.Dispose();
            throw S3Errors.Explain(ex, location);
        }
    }

    public long MtimeUnixSeconds => Math.Max(0, new DateTimeOffset(LastModifiedUtc).ToUnixTimeSeconds());

    public async ValueTask ReadExactlyAtAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        if (destination.IsEmpty)
        {
            return;
        }

        var request = new GetObjectRequest
        {
            BucketName = _bucket,
            Key = _key,
            ByteRange = new ByteRange(offset, offset + destination.Length - 1),
            EtagToMatch = Version,
        };
        try
        {
            using GetObjectResponse response = await _client.GetObjectAsync(request, ct);
            await response.ResponseStream.ReadExactlyAsync(destination, ct);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.PreconditionFailed)
        {
            throw new BundleException(BundleErrorKind.Failed,
                $"image 's3://{_bucket}/{_key}' was overwritten while it was being bundled; the bundle would mix two versions", ex);
        }
        catch (EndOfStreamException ex)
        {
            throw new BundleException(BundleErrorKind.Failed, $"image 's3://{_bucket}/{_key}' ended early; it changed while being bundled", ex);
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
