using BundleCluster.Format.Errors;
using BundleCluster.Format.Files;
using BundleCluster.Format.Parts;

namespace BundleCluster.Format.Unbundling;

/// <summary>Where an unbundle reads parts from: a directory or an object store prefix. Disposing releases its clients.</summary>
public interface IPartSource : IDisposable
{
    /// <summary>The part's length, or null when it does not exist; throws if it is not something a part can be.</summary>
    ValueTask<long?> GetLengthAsync(string fileName, CancellationToken ct);

    /// <summary>A stream of exactly <paramref name="expectedLength"/> bytes (the length seen by the check); never more.</summary>
    ValueTask<Stream> OpenAsync(string fileName, long expectedLength, CancellationToken ct);

    /// <summary>Names the source in error messages, and says how to point at the right one.</summary>
    string Describe();

    /// <summary>The largest part any bundler writes (ec2-ami-tools and euca2ools cut 10 MiB parts).</summary>
    const long MaxPartLength = BundleFileNames.PartSize;

    /// <summary>One line for a part larger than <see cref="MaxPartLength"/>.</summary>
    static BundleException TooLarge(string fileName, long length) => BundleException.InvalidBundle(
        $"bundle part '{fileName}' is {length} bytes; parts are at most {MaxPartLength} bytes, so it is not a part of this bundle");
}

/// <summary>
/// Parts in a local directory (ec2-unbundle's -s). Each part is opened as a regular file (a FIFO or a device is
/// refused, never read); a symbolic link is followed only to a regular file inside the directory itself (after every
/// link is resolved), so a bundle cannot make us read, or print the digest of, a file elsewhere.
/// </summary>
public sealed class DirectoryPartSource : IPartSource
{
    private readonly string _directory;
    private readonly string _resolvedDirectory;

    private DirectoryPartSource(string directory, string resolvedDirectory)
    {
        _directory = directory;
        _resolvedDirectory = resolvedDirectory;
    }

    public ValueTask<long?> GetLengthAsync(string fileName, CancellationToken ct)
    {
        using RegularFile? file = TryOpen(fileName);
        return ValueTask.FromResult(file?.Length);
    }

    public ValueTask<Stream> OpenAsync(string fileName, long expectedLength, CancellationToken ct)
    {
        RegularFile file = TryOpen(fileName) ?? throw Missing(fileName);
        if (file.Length != expectedLength)
        {
            file.Dispose();
            throw new BundleException(BundleErrorKind.Failed,
                $"bundle part '{fileName}' changed while the bundle was read (was {expectedLength} bytes, now {file.Length})");
        }

        return ValueTask.FromResult(file.OpenBoundedStream());
    }

    public void Dispose()
    {
        // Nothing held between calls: each part is opened and closed by its reader.
    }

    /// <summary>The whole part, for commands that send it elsewhere (upload-bundle); at most <see cref="IPartSource.MaxPartLength"/>.</summary>
    public byte[] ReadAll(string fileName)
    {
        using RegularFile file = TryOpen(fileName) ?? throw Missing(fileName);
        return file.ReadAllBytes();
    }

    public string Describe() => $"directory '{_directory}' (use -s to name the directory that holds the parts)";

    private BundleException Missing(string fileName) =>
        new(BundleErrorKind.FileNotFound, $"bundle part '{fileName}' does not exist in {Describe()}");

    private RegularFile? TryOpen(string fileName)
    {
        RegularFile file;
        try
        {
            file = RegularFile.Open(Path.Combine(_directory, fileName), "bundle part", IPartSource.MaxPartLength, BundleErrorKind.InvalidBundle);
        }
        catch (BundleException ex) when (ex.Kind == BundleErrorKind.FileNotFound)
        {
            return null;
        }

        if (Path.GetDirectoryName(file.ResolvedPath) != _resolvedDirectory)
        {
            file.Dispose();
            throw BundleException.InvalidBundle(
                $"bundle part '{fileName}' is a symbolic link to a file outside {Describe()}; parts are read only from inside it");
        }

        return file;
    }

    public static DirectoryPartSource ForDirectory(string directory)
    {
        if (File.Exists(directory))
        {
            throw BundleException.InvalidParameter($"source '{directory}' is a file, not a directory (use -s to name the directory that holds the parts)");
        }

        if (!Directory.Exists(directory))
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"source directory '{directory}' does not exist");
        }

        return new DirectoryPartSource(directory, RealPath.Resolve(directory) ?? Path.GetFullPath(directory));
    }
}
