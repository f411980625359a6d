using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;

namespace BundleCluster.Storage.S3;

/// <summary>The two object calls every S3 component makes the same way: a checked PUT and a HEAD that may miss.</summary>
internal static class S3Objects
{
    /// <summary>PUTs <paramref name="data"/> with Content-MD5 (the store checks what it received) and the ACL, if any.</summary>
    public static async Task PutAsync(AmazonS3Client client, S3Settings settings, string bucket, string key,
        ReadOnlyMemory<byte> data, S3CannedACL? acl, CancellationToken ct)
    {
        MemoryStream body = MemoryMarshal.TryGetArray(data, out ArraySegment<byte> segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(data.ToArray(), writable: false);
        await using (body)
        {
            var put = new PutObjectRequest
            {
                BucketName = bucket,
                Key = key,
                InputStream = body,
                AutoCloseStream = false,
#pragma warning disable CA5351 // Content-MD5 is S3's integrity check of the body (the protocol's choice, not ours)
                MD5Digest = Convert.ToBase64String(MD5.HashData(data.Span)),
#pragma warning restore CA5351
                UseChunkEncoding = !settings.PlainBodies,
                ContentType = "application/octet-stream",
            };
            if (acl is not null)
            {
                put.CannedACL = acl;
            }

            await client.PutObjectAsync(put, ct);
        }
    }

    /// <summary>The object's metadata, or null when the key does not exist (a missing bucket still throws).</summary>
    /// <summary>The ETag S3 gives an object written in one PUT: the MD5 of its bytes, in lower-case hex, unquoted.</summary>
    public static string SinglePutEtag(ReadOnlySpan<byte> data)
    {
#pragma warning disable CA5351 // S3's ETag of a single-part upload is its MD5: comparing needs MD5, not a security choice
        return Convert.ToHexStringLower(MD5.HashData(data));
#pragma warning restore CA5351
    }

    public static async Task<GetObjectMetadataResponse?> HeadAsync(AmazonS3Client client, string bucket, string key, CancellationToken ct)
    {
        try
        {
            return await client.GetObjectMetadataAsync(bucket, key, ct);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && ex.ErrorCode != "NoSuchBucket")
        {
            return null;
        }
    }
}
