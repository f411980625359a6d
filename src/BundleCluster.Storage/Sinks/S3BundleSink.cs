using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using BundleCluster.Format.Errors;
using BundleCluster.Storage.S3;
using S3Location = BundleCluster.Storage.S3.S3Location;

namespace BundleCluster.Storage.Sinks;

/// <summary>
/// A bundle in an S3 bucket, laid out as ec2-upload-bundle lays it out (parts and manifest side by side under the
/// key prefix). Parts are uploaded as they are sealed to a per-job staging prefix, each PUT with Content-MD5; the
/// commit copies them to their final names (which depend on the part count) with the canned ACL, then PUTs the
/// manifest — last — and removes the staging objects. Abort removes staged and committed parts; no manifest remains.
/// </summary>
public sealed class S3BundleSink : IBundleSink
{
    private readonly S3Location _location;
    private readonly S3Settings _settings;
    private readonly AmazonS3Client _client;
    private readonly string _staging;
    private readonly List<string> _committed = [];

    public S3BundleSink(S3Location location, string jobId, S3Settings settings)
    {
        _location = location;
        _settings = settings;
        _client = settings.CreateClient();
        _staging = location.Key(Format.BundleFileNames.Staging(jobId) + "/");
    }

    public async Task PrepareAsync(string prefix, bool overwrite, CancellationToken ct)
    {
        string manifest = _location.Key(prefix + ".manifest.xml");
        try
        {
            if (await S3Objects.HeadAsync(_client, _location.Bucket, manifest, ct) is not null && !overwrite)
            {
                throw BundleException.InvalidParameter(
                    $"{_location} already holds a bundle named '{prefix}' ({manifest}); delete it, choose another prefix or pass --overwrite");
            }

            // A small probe object proves the bucket takes writes (with the ACL we will send) before any image byte is read.
            string probe = _staging + ".write-probe";
            await PutAsync(probe, Array.Empty<byte>(), _settings.CannedAcl, ct);
            await _client.DeleteObjectAsync(_location.Bucket, probe, ct);
        }
        catch (AmazonS3Exception ex)
        {
            throw Explain(ex);
        }
    }

    public async Task WritePartAsync(int index, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        try
        {
            await PutAsync(_staging + $"part.{index}", data, acl: null, ct);
        }
        catch (AmazonS3Exception ex)
        {
            throw Explain(ex);
        }
    }

    /// <summary>Parts are single PUTs with Content-MD5, so a staged part's ETag is its MD5: no download needed.</summary>
    public async Task<bool> IsStagedAsync(int index, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        GetObjectMetadataResponse? staged = await S3Objects.HeadAsync(_client, _location.Bucket, _staging + $"part.{index}", ct);
        return staged is not null && staged.ContentLength == data.Length
            && string.Equals(staged.ETag?.Trim('"'), S3Objects.SinglePutEtag(data.Span), StringComparison.OrdinalIgnoreCase);
    }

    public async Task<long?> StagedPartLengthAsync(int index, CancellationToken ct)
    {
        return (await S3Objects.HeadAsync(_client, _location.Bucket, _staging + $"part.{index}", ct))?.ContentLength;
    }

    public async Task CommitAsync(string manifestFileName, IReadOnlyList<string> partFileNames, string manifestText,
        IReadOnlyList<BundleSidecar> sidecars, CancellationToken ct)
    {
        try
        {
            string manifest = _location.Key(manifestFileName);
            await _client.DeleteObjectAsync(_location.Bucket, manifest, ct); // never pair an old manifest with new parts
            await _client.DeleteObjectAsync(_location.Bucket, _location.Key(Format.Incremental.SliceIndex.FileName(manifestFileName)), ct); // nor its index
            for (int i = 0; i < partFileNames.Count; i++)
            {
                string target = _location.Key(partFileNames[i]);
                var copy = new CopyObjectRequest
                {
                    SourceBucket = _location.Bucket,
                    SourceKey = _staging + $"part.{i}",
                    DestinationBucket = _location.Bucket,
                    DestinationKey = target,
                };
                if (_settings.CannedAcl is { } acl)
                {
                    copy.CannedACL = acl;
                }

                await _client.CopyObjectAsync(copy, ct);
                _committed.Add(target);
            }

            foreach (BundleSidecar sidecar in sidecars)
            {
                string key = _location.Key(sidecar.FileName);
                await PutAsync(key, sidecar.Content, _settings.CannedAcl, ct);
                _committed.Add(key);
            }

            await PutAsync(manifest, Encoding.UTF8.GetBytes(manifestText), _settings.CannedAcl, ct);
            await DeleteStagingAsync(ct);
        }
        catch (AmazonS3Exception ex)
        {
            throw Explain(ex);
        }
    }

    public async Task AbortAsync(CancellationToken ct)
    {
        await DeleteStagingAsync(ct);
        foreach (string key in _committed)
        {
            await _client.DeleteObjectAsync(_location.Bucket, key, ct);
        }

        _committed.Clear();
    }

    private Task PutAsync(string key, ReadOnlyMemory<byte> data, S3CannedACL? acl, CancellationToken ct) =>
        S3Objects.PutAsync(_client, _settings, _location.Bucket, key, data, acl, ct);

    private async Task DeleteStagingAsync(CancellationToken ct)
    {
        var list = new ListObjectsV2Request { BucketName = _location.Bucket, Prefix = _staging };
        ListObjectsV2Response page;
        do
        {
            page = await _client.ListObjectsV2Async(list, ct);
            foreach (S3Object item in page.S3Objects ?? [])
            {
                await _client.DeleteObjectAsync(_location.Bucket, item.Key, ct);
            }

            list.ContinuationToken = page.NextContinuationToken;
        }
        while (page.IsTruncated == true);
    }

    private BundleException Explain(AmazonS3Exception ex) => S3Errors.Explain(ex, _location);

    public void Dispose() => _client.Dispose();
}
