namespace BundleCluster.Format.Files;

/// <summary>
/// What identifies one version of a file: the device and inode (a rename or a symlink swap changes them), the length
/// and the modification time in nanoseconds (a write changes them, unless someone restores the time on purpose).
/// </summary>
public readonly record struct FileIdentity(ulong Device, ulong Inode, long Length, long MtimeNanoseconds)
{
    /// <summary>The modification time in whole Unix seconds, as GNU tar records it.</summary>
    public long MtimeUnixSeconds => Math.Max(0, MtimeNanoseconds / 1_000_000_000);

    /// <summary>A compact text form a job can pin and compare: <c>dev:inode:length:mtime-ns</c>.</summary>
    public override string ToString() => $"{Device}:{Inode}:{Length}:{MtimeNanoseconds}";
}

/// <summary>What kind of file system object a path names, as far as the readers here care.</summary>
internal enum FileKind
{
    Regular,
    Directory,
    Fifo,
    CharacterDevice,
    BlockDevice,
    Socket,
    Other,
}
