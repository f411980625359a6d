using System.Text;
using BundleCluster.Format.Errors;

namespace BundleCluster.Storage.Sinks;

/// <summary>
/// A bundle in a local directory, as ec2-bundle-image writes it. Parts are staged in a hidden per-job directory inside
/// the destination (same file system, so the final move is a rename and no temp space is used elsewhere); the manifest
/// is written to a temporary name, flushed and renamed, last.
/// </summary>
public sealed class DirectoryBundleSink : IBundleSink
{
    private readonly string _directory;
    private readonly string _staging;
    private readonly List<string> _committedParts = [];

    public DirectoryBundleSink(string directory, string jobId)
    {
        _directory = Path.GetFullPath(directory);
        _staging = Path.Combine(_directory, $".bundlecluster-{jobId}");
    }

    public string Describe() => $"directory '{_directory}'";

    public Task PrepareAsync(string prefix, bool overwrite, CancellationToken ct)
    {
        if (!Directory.Exists(_directory))
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"destination directory '{_directory}' does not exist");
        }

        string manifest = Path.Combine(_directory, prefix + ".manifest.xml");
        if (File.Exists(manifest) && !overwrite)
        {
            throw BundleException.InvalidParameter(
                $"destination already holds a bundle named '{prefix}' ({manifest}); remove it, choose another prefix or pass --overwrite");
        }

        try
        {
            Directory.CreateDirectory(_staging);
            string probe = Path.Combine(_staging, ".write-probe");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw BundleException.InvalidParameter($"destination directory '{_directory}' is not writable: {ex.Message}");
        }

        return Task.CompletedTask;
    }

    public async Task WritePartAsync(int index, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        Directory.CreateDirectory(_staging);
        string path = Path.Combine(_staging, $"part.{index}");
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
        await file.WriteAsync(data, ct).ConfigureAwait(false);
        file.Flush(flushToDisk: true);
    }

    public Task<long?> StagedPartLengthAsync(int index, CancellationToken ct)
    {
        var staged = new FileInfo(Path.Combine(_staging, $"part.{index}"));
        return Task.FromResult<long?>(staged.Exists ? staged.Length : null);
    }

    public async Task CommitAsync(string manifestFileName, IReadOnlyList<string> partFileNames, string manifestText, CancellationToken ct)
    {
        string manifest = Path.Combine(_directory, manifestFileName);
        File.Delete(manifest); // an overwritten bundle must never pair its old manifest with new parts
        for (int i = 0; i < partFileNames.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            string target = Path.Combine(_directory, partFileNames[i]);
            string staged = Path.Combine(_staging, $"part.{i}");
            if (File.Exists(staged) || !File.Exists(target))
            {
                File.Move(staged, target, overwrite: true); // (a part already moved by an interrupted commit stays)
            }

            _committedParts.Add(target);
        }

        string temporary = Path.Combine(_staging, "manifest.tmp");
        await using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
        {
            await file.WriteAsync(Encoding.UTF8.GetBytes(manifestText), ct).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, manifest, overwrite: true);
        Directory.Delete(_staging, recursive: true);
    }

    public void Dispose()
    {
        // Nothing held open between calls.
    }

    public Task AbortAsync(CancellationToken ct)
    {
        if (Directory.Exists(_staging))
        {
            Directory.Delete(_staging, recursive: true);
        }

        foreach (string part in _committedParts)
        {
            File.Delete(part);
        }

        _committedParts.Clear();
        return Task.CompletedTask;
    }
}
