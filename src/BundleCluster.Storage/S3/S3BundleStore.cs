using System.Net;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Manifest;

namespace BundleCluster.Storage.S3;

/// <summary>
/// ec2-upload-bundle, ec2-download-bundle and ec2-delete-bundle over one bucket prefix. Parts are independent
/// objects, so uploads and downloads run in parallel (the originals go one at a time); the manifest is uploaded last
/// and deleted last. The SDK retries 5xx, SlowDown, timeouts and resets with exponential backoff and jitter.
/// </summary>
public sealed class S3BundleStore(S3Location location, S3Settings settings, int parallelism = 4) : IDisposable
{
    private readonly AmazonS3Client _client = settings.CreateClient();

    /// <summary>What an upload did: parts sent, parts skipped because the bucket already held them, the manifest key.</summary>
    public sealed record UploadResult(int Uploaded, int AlreadyThere, string? ManifestKey);

    public async Task<UploadResult> UploadAsync(string manifestPath, string partsDirectory, int firstPart, bool skipManifest, CancellationToken ct)
    {
        BundleManifest manifest = ReadLocalManifest(manifestPath);
        List<ManifestPart> parts = manifest.Image.Parts.Where(p => p.Index >= firstPart).ToList();
        foreach (ManifestPart part in parts)
        {
            if (!File.Exists(Path.Combine(partsDirectory, part.FileName)))
            {
                throw new BundleException(BundleErrorKind.FileNotFound, $"bundle part '{part.FileName}' does not exist in '{partsDirectory}' (use -d)");
            }
        }

        int uploaded = 0, skipped = 0;
        await Guard(() => Parallel.ForEachAsync(parts, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = ct }, async (part, token) =>
        {
            byte[] data = await File.ReadAllBytesAsync(Path.Combine(partsDirectory, part.FileName), token);
            string md5 = Convert.ToHexStringLower(MD5.HashData(data));
            if (await RemoteEtagAsync(location.Key(part.FileName), token) == md5)
            {
                Interlocked.Increment(ref skipped); // resume: this part is already there, byte for byte
                return;
            }

            await PutAsync(location.Key(part.FileName), data, token);
            Interlocked.Increment(ref uploaded);
        }));

        string? manifestKey = null;
        if (!skipManifest)
        {
            manifestKey = location.Key(Path.GetFileName(manifestPath));
            byte[] manifestBytes = await File.ReadAllBytesAsync(manifestPath, ct);
            await Guard(() => PutAsync(manifestKey, manifestBytes, ct));
        }

        return new UploadResult(uploaded, skipped, manifestKey);
    }

    /// <summary>Downloads the manifest and its parts into <paramref name="directory"/>, checking every part's SHA-1.</summary>
    public async Task<string> DownloadAsync(string manifestName, string directory, CancellationToken ct)
    {
        if (!Directory.Exists(directory))
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"directory '{directory}' does not exist");
        }

        string manifestPath = Path.Combine(directory, manifestName);
        byte[] manifestBytes = await GetManifestAsync(manifestName, ct);
        BundleManifest manifest = ManifestReader.Parse(System.Text.Encoding.UTF8.GetString(manifestBytes));
        await Guard(() => Parallel.ForEachAsync(manifest.Image.Parts, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = ct }, async (part, token) =>
        {
            byte[] data = await GetAsync(location.Key(part.FileName), token);
            string sha1 = Convert.ToHexStringLower(SHA1.HashData(data));
            if (sha1 != part.Sha1Hex)
            {
                throw BundleException.InvalidBundle($"bundle part '{part.FileName}' downloaded corrupt (expected SHA-1 {part.Sha1Hex}, actual {sha1})");
            }

            await File.WriteAllBytesAsync(Path.Combine(directory, part.FileName), data, token);
        }));
        await File.WriteAllBytesAsync(manifestPath, manifestBytes, ct); // last: a manifest on disk means its parts are too
        return manifestPath;
    }

    /// <summary>The objects a delete would remove: the parts the manifest lists, then the manifest.</summary>
    public async Task<IReadOnlyList<string>> KeysOfBundleAsync(string manifestName, string? localManifestPath, CancellationToken ct)
    {
        BundleManifest manifest = localManifestPath is not null
            ? ReadLocalManifest(localManifestPath)
            : ManifestReader.Parse(System.Text.Encoding.UTF8.GetString(await GetManifestAsync(manifestName, ct)));
        return [.. manifest.Image.Parts.Select(p => location.Key(p.FileName)), location.Key(manifestName)];
    }

    public async Task DeleteAsync(IReadOnlyList<string> keys, CancellationToken ct)
    {
        foreach (string key in keys)
        {
            await Guard(async () => { await _client.DeleteObjectAsync(location.Bucket, key, ct); return 0; });
        }
    }

    private async Task<byte[]> GetManifestAsync(string manifestName, CancellationToken ct)
    {
        try
        {
            return await Guard(() => GetAsync(location.Key(manifestName), ct));
        }
        catch (BundleException ex) when (ex.InnerException is AmazonS3Exception { ErrorCode: "NoSuchKey" })
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"{location} holds no manifest '{location.Key(manifestName)}' (use -p PREFIX or -m NAME)", ex);
        }
    }

    private static BundleManifest ReadLocalManifest(string path)
    {
        if (!File.Exists(path))
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"manifest '{path}' does not exist");
        }

        return ManifestReader.Parse(File.ReadAllText(path));
    }

    private async Task<string?> RemoteEtagAsync(string key, CancellationToken ct) =>
        (await S3Objects.HeadAsync(_client, location.Bucket, key, ct))?.ETag?.Trim('"');

    private Task PutAsync(string key, byte[] data, CancellationToken ct) =>
        S3Objects.PutAsync(_client, settings, location.Bucket, key, data, settings.CannedAcl, ct);

    private async Task<byte[]> GetAsync(string key, CancellationToken ct)
    {
        using GetObjectResponse response = await _client.GetObjectAsync(location.Bucket, key, ct);
        using var buffer = new MemoryStream();
        await response.ResponseStream.CopyToAsync(buffer, ct);
        return buffer.ToArray();
    }

    private async Task<T> Guard<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (AmazonS3Exception ex)
        {
            throw S3Errors.Explain(ex, location);
        }
    }

    private Task Guard(Func<Task> call) => Guard(async () => { await call(); return 0; });

    public void Dispose() => _client.Dispose();
}
