using Amazon.S3;
using BundleCluster.Format.Unbundling;

namespace BundleCluster.Storage.S3;

/// <summary>Parts read straight from a bucket prefix (unbundle/verify -s s3://bucket/prefix): nothing staged on disk.</summary>
public sealed class S3PartSource(S3Location location, S3Settings settings) : IPartSource, IDisposable
{
    private readonly AmazonS3Client _client = settings.CreateClient();

    public async ValueTask<long?> GetLengthAsync(string fileName, CancellationToken ct) =>
        (await S3Objects.HeadAsync(_client, location.Bucket, location.Key(fileName), ct))?.ContentLength;

    public Stream Open(string fileName, long expectedLength) =>
        new ExactLengthStream(_client.GetObjectAsync(location.Bucket, location.Key(fileName)).GetAwaiter().GetResult().ResponseStream,
            expectedLength, $"bundle part '{fileName}'");

    public string Describe() => $"{location} (use -s to name the bucket prefix that holds the parts)";

    public void Dispose() => _client.Dispose();
}
