using System.Text;
using System.Text.RegularExpressions;
using BundleCluster.Format.Errors;

namespace BundleCluster.Storage.Sinks;

/// <summary>
/// A bundle in a local directory, as ec2-bundle-image writes it. Parts are staged in a hidden per-job directory inside
/// the destination (same file system, so the final move is a rename and no temp space is used elsewhere); the manifest
/// is written to a temporary name, flushed and renamed, last.
/// <para>
/// One writer per prefix: a job holds the lock <c>.PREFIX.bundlecluster-lock</c> (flock, released by the kernel if the
/// process dies) from preparation to commit or abort, so two runs naming the same destination and prefix cannot
/// interleave parts and manifests — the second fails at once. A job whose state dies with its process (the embedded
/// silo) also locks its staging directory; the next job in the destination removes staging directories whose lock is
/// free, that is, whose process is gone. Staging of clustered jobs, which resume on other silos, is left to its job.
/// </para>
/// </summary>
public sealed class DirectoryBundleSink : IBundleSink
{
    private const string ProcessOwnedMarker = "process.lock";
    private const string LockSuffix = ".bundlecluster-lock";
    private readonly string _directory;
    private readonly string _staging;
    private readonly bool _stagingDiesWithProcess;
    private readonly List<string> _committedParts = [];
    private DirectoryLock? _prefixLock;
    private DirectoryLock? _stagingLock;

    /// <param name="stagingDiesWithProcess">True when the job cannot outlive this process (embedded): its staging is
    /// then marked so that later runs remove it if this process dies.</param>
    public DirectoryBundleSink(string directory, string jobId, bool stagingDiesWithProcess = false)
    {
        _directory = Path.GetFullPath(directory);
        _staging = Path.Combine(_directory, Format.BundleFileNames.Staging(jobId));
        _stagingDiesWithProcess = stagingDiesWithProcess;
    }

    public Task PrepareAsync(string prefix, bool overwrite, CancellationToken ct)
    {
        if (File.Exists(_directory))
        {
            throw BundleException.InvalidParameter($"destination '{_directory}' is a file, not a directory");
        }

        if (!Directory.Exists(_directory))
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"destination directory '{_directory}' does not exist");
        }

        try
        {
            TakePrefixLock(prefix);
            RemoveStagingOfDeadRuns();
            if (new DirectoryInfo(_staging).LinkTarget is not null)
            {
                // A job id can be predictable (an idempotency key): a link planted under its staging name would send
                // the parts, and the recursive removal after a failure, somewhere else.
                throw BundleException.InvalidParameter($"'{_staging}' is a symbolic link; the staging directory of a job must be a directory of its own");
            }

            Directory.CreateDirectory(_staging);
            if (_stagingDiesWithProcess)
            {
                _stagingLock = DirectoryLock.TryTake(Path.Combine(_staging, ProcessOwnedMarker));
            }

            string probe = Path.Combine(_staging, ".write-probe");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            ReleaseLocks();
            throw BundleException.InvalidParameter($"destination directory '{_directory}' is not writable: {ex.Message}");
        }
        catch
        {
            ReleaseLocks(); // a refused job must not keep the prefix locked
            throw;
        }

        string manifest = Path.Combine(_directory, prefix + ".manifest.xml");
        if (File.Exists(manifest) && !overwrite)
        {
            ReleaseStagingLock();
            Directory.Delete(_staging, recursive: true);
            ReleaseLocks();
            throw BundleException.InvalidParameter(
                $"destination already holds a bundle named '{prefix}' ({manifest}); remove it, choose another prefix or pass --overwrite");
        }

        return Task.CompletedTask;
    }

    private void TakePrefixLock(string prefix)
    {
        if (_prefixLock is not null)
        {
            return;
        }

        _prefixLock = DirectoryLock.TryTake(Path.Combine(_directory, $".{prefix}{LockSuffix}"))
            ?? throw BundleException.InvalidParameter(
                $"another bundle-image run is writing a bundle named '{prefix}' into '{_directory}'; wait for it or choose another prefix");
    }

    /// <summary>
    /// Staging of embedded runs whose process is gone (their lock is free): nothing will ever commit it. Also the lock
    /// files of dead runs: a free one is taken and removed (the take-then-remove protocol of <see cref="DirectoryLock"/>).
    /// </summary>
    private void RemoveStagingOfDeadRuns()
    {
        foreach (string lockFile in Directory.EnumerateFiles(_directory, ".*" + LockSuffix))
        {
            if (lockFile != _prefixLock?.Path)
            {
                DirectoryLock.TryTake(lockFile)?.Dispose();
            }
        }

        foreach (string staging in Directory.EnumerateDirectories(_directory, Format.BundleFileNames.StagingPrefix + "*"))
        {
            string marker = Path.Combine(staging, ProcessOwnedMarker);
            if (staging != _staging && File.Exists(marker) && !DirectoryLock.IsHeld(marker))
            {
                try
                {
                    // A planted ".bundlecluster-x" link is removed itself: Directory.Delete unlinks a link, never
                    // recursing into its target (verified by hand on .NET 10: the target kept its files).
                    Directory.Delete(staging, recursive: true);
                }
                catch (IOException)
                {
                    // Another run is removing it too.
                }
            }
        }
    }

    public async Task WritePartAsync(int index, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        Directory.CreateDirectory(_staging);
        string path = Path.Combine(_staging, $"part.{index}");
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
        await file.WriteAsync(data, ct).ConfigureAwait(false);
        file.Flush(flushToDisk: true);
    }

    public async Task<bool> IsStagedAsync(int index, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var staged = new FileInfo(Path.Combine(_staging, $"part.{index}"));
        if (!staged.Exists || staged.Length != data.Length)
        {
            return false;
        }

        byte[] bytes = await File.ReadAllBytesAsync(staged.FullName, ct).ConfigureAwait(false);
        return bytes.AsSpan().SequenceEqual(data.Span);
    }

    public Task<long?> StagedPartLengthAsync(int index, CancellationToken ct)
    {
        var staged = new FileInfo(Path.Combine(_staging, $"part.{index}"));
        return Task.FromResult<long?>(staged.Exists ? staged.Length : null);
    }

    public async Task CommitAsync(string manifestFileName, IReadOnlyList<string> partFileNames, string manifestText,
        IReadOnlyList<BundleSidecar> sidecars, CancellationToken ct)
    {
        string prefix = manifestFileName[..^".manifest.xml".Length];
        TakePrefixLock(prefix); // a job resumed on another silo commits under the lock too
        string manifest = Path.Combine(_directory, manifestFileName);
        File.Delete(manifest); // an overwritten bundle must never pair its old manifest with new parts
        File.Delete(Path.Combine(_directory, Format.Incremental.SliceIndex.FileName(manifestFileName))); // nor its index
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

        RemovePartsNotIn(prefix, partFileNames);
        foreach (BundleSidecar sidecar in sidecars)
        {
            string target = Path.Combine(_directory, sidecar.FileName);
            await WriteDurablyAsync(sidecar.Content, target, ct).ConfigureAwait(false);
            _committedParts.Add(target);
        }

        await WriteDurablyAsync(Encoding.UTF8.GetBytes(manifestText), manifest, ct).ConfigureAwait(false);
        ReleaseStagingLock();
        Directory.Delete(_staging, recursive: true);
        ReleaseLocks();
    }

    /// <summary>Writes a file under a temporary name in staging, flushes it to disk and renames it into place.</summary>
    private async Task WriteDurablyAsync(byte[] content, string target, CancellationToken ct)
    {
        string temporary = Path.Combine(_staging, Path.GetFileName(target) + ".tmp");
        await using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
        {
            await file.WriteAsync(content, ct).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, target, overwrite: true);
    }

    /// <summary>
    /// On overwrite, the old bundle's extra parts (it had more) would lie beside the new bundle forever: remove every
    /// <c>PREFIX.part.N</c> the new manifest does not list. Safe under the prefix lock: no other run writes them.
    /// </summary>
    private void RemovePartsNotIn(string prefix, IReadOnlyList<string> keep)
    {
        var pattern = new Regex("^" + Regex.Escape(prefix) + @"\.part\.[0-9]+$", RegexOptions.CultureInvariant);
        var kept = new HashSet<string>(keep, StringComparer.Ordinal);
        foreach (string path in Directory.EnumerateFiles(_directory, prefix + ".part.*"))
        {
            string name = Path.GetFileName(path);
            if (pattern.IsMatch(name) && !kept.Contains(name))
            {
                File.Delete(path);
            }
        }
    }

    public void Dispose() => ReleaseLocks();

    private void ReleaseStagingLock()
    {
        _stagingLock?.Dispose();
        _stagingLock = null;
    }

    private void ReleaseLocks()
    {
        ReleaseStagingLock();
        _prefixLock?.Dispose();
        _prefixLock = null;
    }

    public Task AbortAsync(CancellationToken ct)
    {
        ReleaseStagingLock();
        if (Directory.Exists(_staging))
        {
            Directory.Delete(_staging, recursive: true);
        }

        foreach (string part in _committedParts)
        {
            File.Delete(part);
        }

        _committedParts.Clear();
        ReleaseLocks();
        return Task.CompletedTask;
    }
}
