using System.Net;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Manifest;
using BundleCluster.Format.Unbundling;

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
        (BundleManifest manifest, byte[] manifestBytes) = ReadLocalManifest(manifestPath);
        List<ManifestPart> parts = manifest.Image.Parts.Where(p => p.Index >= firstPart).ToList();
        // Parts are read as the unbundler reads them: regular files inside the directory, at most 10 MiB each.
        DirectoryPartSource source = DirectoryPartSource.ForDirectory(partsDirectory);
        foreach (ManifestPart part in parts)
        {
            if (await source.GetLengthAsync(part.FileName, ct) is null)
            {
                throw new BundleException(BundleErrorKind.FileNotFound, $"bundle part '{part.FileName}' does not exist in '{partsDirectory}' (use -d)");
            }
        }

        int uploaded = 0, skipped = 0;
        await Guard(() => Parallel.ForEachAsync(parts, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = ct }, async (part, token) =>
        {
            byte[] data = source.ReadAll(part.FileName);
            string md5 = S3Objects.SinglePutEtag(data);
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
            // Our bundles' slice index goes along (before the manifest), so the uploaded copy can be a baseline too.
            string index = Format.Incremental.SliceIndex.FileName(manifestPath);
            if (File.Exists(index))
            {
                using Format.Files.RegularFile file = Format.Files.RegularFile.Open(index, "slice index", Format.Incremental.SliceIndexFile.MaxBytes, BundleErrorKind.InvalidBundle);
                byte[] indexBytes = file.ReadAllBytes();
                await Guard(() => PutAsync(location.Key(Path.GetFileName(index)), indexBytes, ct));
            }

            manifestKey = location.Key(Path.GetFileName(manifestPath));
            await Guard(() => PutAsync(manifestKey, manifestBytes, ct));
        }

        return new UploadResult(uploaded, skipped, manifestKey);
    }

    /// <summary>
    /// Downloads the manifest and its parts into <paramref name="directory"/>, checking every part's SHA-1. Objects are
    /// streamed to a new hidden file (never through an existing file or symlink: O_EXCL), at most 10 MiB per part and
    /// <see cref="ManifestReader.MaxBytes"/> for the manifest, and renamed into place only when whole and correct
    /// (rename replaces a symlink instead of writing through it). The manifest goes last.
    /// </summary>
    public async Task<string> DownloadAsync(string manifestName, string directory, CancellationToken ct)
    {
        if (File.Exists(directory))
        {
            throw BundleException.InvalidParameter($"destination '{directory}' is a file, not a directory");
        }

        if (!Directory.Exists(directory))
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"directory '{directory}' does not exist");
        }

        string manifestPath = Path.Combine(directory, manifestName);
        byte[] manifestBytes = await GetManifestAsync(manifestName, ct);
        BundleManifest manifest = ManifestReader.Parse(manifestBytes);
        var written = new System.Collections.Concurrent.ConcurrentBag<string>();
        try
        {
            await Guard(() => Parallel.ForEachAsync(manifest.Image.Parts, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = ct }, async (part, token) =>
            {
                string target = Path.Combine(directory, part.FileName);
                await DownloadPartAsync(part, target, token);
                written.Add(target);
            }));
            await WriteNewThenRenameAsync(manifestPath, manifestBytes, ct); // last: a manifest on disk means its parts are too
        }
        catch
        {
            foreach (string part in written)
            {
                File.Delete(part);
            }

            throw;
        }

        return manifestPath;
    }

    private async Task DownloadPartAsync(ManifestPart part, string target, CancellationToken ct)
    {
        string key = location.Key(part.FileName);
        string partial = Path.Combine(Path.GetDirectoryName(target)!, $".{part.FileName}.{Guid.NewGuid():N}.partial");
        try
        {
            using GetObjectResponse response = await _client.GetObjectAsync(location.Bucket, key, ct);
            if (response.ContentLength > Format.Unbundling.IPartSource.MaxPartLength)
            {
                throw Format.Unbundling.IPartSource.TooLarge(part.FileName, response.ContentLength);
            }

            using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
            await using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            await using (var body = new Format.Unbundling.ExactLengthStream(response.ResponseStream, response.ContentLength, $"bundle part '{part.FileName}'"))
            {
                byte[] buffer = new byte[1 << 16];
                int n;
                while ((n = await body.ReadAsync(buffer, ct)) > 0)
                {
                    sha1.AppendData(buffer, 0, n);
                    await file.WriteAsync(buffer.AsMemory(0, n), ct);
                }
            }

            string actual = Convert.ToHexStringLower(sha1.GetHashAndReset());
            if (actual != part.Sha1Hex)
            {
                throw BundleException.InvalidBundle($"bundle part '{part.FileName}' downloaded corrupt (expected SHA-1 {part.Sha1Hex}, actual {actual})");
            }

            File.Move(partial, target, overwrite: true);
        }
        finally
        {
            File.Delete(partial);
        }
    }

    private static async Task WriteNewThenRenameAsync(string target, byte[] data, CancellationToken ct)
    {
        string partial = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.partial");
        try
        {
            await using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            {
                await file.WriteAsync(data, ct);
            }

            File.Move(partial, target, overwrite: true);
        }
        finally
        {
            File.Delete(partial);
        }
    }

    /// <summary>The objects a delete would remove: the parts the manifest lists, its slice index (if any), then the manifest.</summary>
    public async Task<IReadOnlyList<string>> KeysOfBundleAsync(string manifestName, string? localManifestPath, CancellationToken ct)
    {
        BundleManifest manifest = localManifestPath is not null
            ? ReadLocalManifest(localManifestPath).Manifest
            : ManifestReader.Parse(await GetManifestAsync(manifestName, ct));
        return [.. manifest.Image.Parts.Select(p => location.Key(p.FileName)), location.Key(Format.Incremental.SliceIndex.FileName(manifestName)),
            location.Key(manifestName)];
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
            return await Guard(() => GetAsync(location.Key(manifestName), ManifestReader.MaxBytes, ct));
        }
        catch (BundleException ex) when (ex.InnerException is AmazonS3Exception { ErrorCode: "NoSuchKey" })
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"{location} holds no manifest '{location.Key(manifestName)}' (use -p PREFIX or -m NAME)", ex);
        }
    }

    private static (BundleManifest Manifest, byte[] Bytes) ReadLocalManifest(string path)
    {
        using Format.Files.RegularFile file = Format.Files.RegularFile.Open(path, "manifest", ManifestReader.MaxBytes, BundleErrorKind.InvalidBundle);
        byte[] bytes = file.ReadAllBytes();
        return (ManifestReader.Parse(bytes), bytes);
    }

    private async Task<string?> RemoteEtagAsync(string key, CancellationToken ct) =>
        (await S3Objects.HeadAsync(_client, location.Bucket, key, ct))?.ETag?.Trim('"');

    private Task PutAsync(string key, byte[] data, CancellationToken ct) =>
        S3Objects.PutAsync(_client, settings, location.Bucket, key, data, settings.CannedAcl, ct);

    /// <summary>A small object (a manifest) into memory, refused above <paramref name="limit"/> before its body is read.</summary>
    private async Task<byte[]> GetAsync(string key, long limit, CancellationToken ct)
    {
        using GetObjectResponse response = await _client.GetObjectAsync(location.Bucket, key, ct);
        if (response.ContentLength > limit)
        {
            throw BundleException.InvalidBundle($"object '{key}' is {response.ContentLength} bytes, more than the {limit} a manifest may have");
        }

        byte[] data = new byte[response.ContentLength];
        await using var body = new Format.Unbundling.ExactLengthStream(response.ResponseStream, data.Length, $"object '{key}'");
        await body.ReadExactlyAsync(data, ct);
        return data;
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

    private Task<int> Guard(Func<Task> call) => Guard(async () => { await call(); return 0; });

    public void Dispose() => _client.Dispose();
}
