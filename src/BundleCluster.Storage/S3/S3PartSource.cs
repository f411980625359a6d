using Amazon.S3;
using BundleCluster.Format.Unbundling;

namespace BundleCluster.Storage.S3;

/// <summary>Parts read straight from a bucket prefix (unbundle/verify -s s3://bucket/prefix): nothing staged on disk.</summary>
public sealed class S3PartSource(S3Location location, S3Settings settings) : IPartSource
{
    private readonly AmazonS3Client _client = settings.CreateClient();

    public async ValueTask<long?> GetLengthAsync(string fileName, CancellationToken ct) =>
        (await S3Objects.HeadAsync(_client, location.Bucket, location.Key(fileName), ct))?.ContentLength;

    public async ValueTask<Stream> OpenAsync(string fileName, long expectedLength, CancellationToken ct)
    {
        Amazon.S3.Model.GetObjectResponse response = await _client.GetObjectAsync(location.Bucket, location.Key(fileName), ct).ConfigureAwait(false);
        return new ExactLengthStream(response.ResponseStream, expectedLength, $"bundle part '{fileName}'");
    }

    public string Describe() => $"{location} (use -s to name the bucket prefix that holds the parts)";

    public void Dispose() => _client.Dispose();
}
