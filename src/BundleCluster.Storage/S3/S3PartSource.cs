using System.Net;
using Amazon.S3;
using BundleCluster.Format.Unbundling;

namespace BundleCluster.Storage.S3;

/// <summary>Parts read straight from a bucket prefix (unbundle/verify -s s3://bucket/prefix): nothing staged on disk.</summary>
public sealed class S3PartSource(S3Location location, S3Settings settings) : IPartSource, IDisposable
{
    private readonly AmazonS3Client _client = settings.CreateClient();

    public async ValueTask<long?> GetLengthAsync(string fileName, CancellationToken ct)
    {
        try
        {
            return (await _client.GetObjectMetadataAsync(location.Bucket, location.Key(fileName), ct)).ContentLength;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public Stream Open(string fileName) =>
        _client.GetObjectAsync(location.Bucket, location.Key(fileName)).GetAwaiter().GetResult().ResponseStream;

    public string Describe() => $"{location} (use -s to name the bucket prefix that holds the parts)";

    public void Dispose() => _client.Dispose();
}
