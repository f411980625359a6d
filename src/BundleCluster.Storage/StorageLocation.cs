using BundleCluster.Storage.S3;

namespace BundleCluster.Storage;

/// <summary>
/// Where an image is read from or a bundle goes, parsed once: a path on the silos' file system or an
/// <c>s3://bucket/prefix</c>. Code branches on the type (<c>switch</c>), never on a string prefix.
/// </summary>
public abstract record StorageLocation
{
    /// <summary>An <c>s3://</c> URI (validated: a bad bucket name is one clear error) or else a path, kept as given.</summary>
    public static StorageLocation From(string text) => S3Location.IsS3(text) ? S3Location.Parse(text) : new FileLocation(text);
}

/// <summary>
/// A path as given (not normalized here: resolving "..", links and roots is the reader's and the confinement
/// check's business, on the real file system).
/// </summary>
public sealed record FileLocation(string Path) : StorageLocation
{
    public override string ToString() => Path;
}
