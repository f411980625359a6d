using BundleCluster.Format.Errors;

namespace BundleCluster.Format.Unbundling;

/// <summary>Where an unbundle reads parts from (a directory now; an object store prefix later).</summary>
public interface IPartSource
{
    /// <summary>The part's length, or null when it does not exist.</summary>
    ValueTask<long?> GetLengthAsync(string fileName, CancellationToken ct);

    Stream Open(string fileName);

    /// <summary>Names the source in error messages, and says how to point at the right one.</summary>
    string Describe();
}

/// <summary>Parts in a local directory (ec2-unbundle's -s, default the current directory).</summary>
public sealed class DirectoryPartSource(string directory) : IPartSource
{
    public ValueTask<long?> GetLengthAsync(string fileName, CancellationToken ct)
    {
        var info = new FileInfo(Path.Combine(directory, fileName));
        return ValueTask.FromResult<long?>(info.Exists ? info.Length : null);
    }

    public Stream Open(string fileName) =>
        new FileStream(Path.Combine(directory, fileName), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);

    public string Describe() => $"directory '{directory}' (use -s to name the directory that holds the parts)";

    public static DirectoryPartSource ForDirectory(string directory) =>
        Directory.Exists(directory)
            ? new DirectoryPartSource(directory)
            : throw new BundleException(BundleErrorKind.FileNotFound, $"source directory '{directory}' does not exist");
}
