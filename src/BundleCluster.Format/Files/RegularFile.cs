using System.Runtime.InteropServices;
using BundleCluster.Format.Errors;
using Microsoft.Win32.SafeHandles;

namespace BundleCluster.Format.Files;

/// <summary>
/// A file opened for reading only if it is a regular file, with its identity and the path the kernel actually opened.
/// Every file BundleCluster reads on a user's or a tenant's say-so (images, manifests, parts, keys, certificates)
/// comes through here, because:
/// <list type="bullet">
/// <item>opening a FIFO for reading blocks until a writer appears, and a device never ends: the file is opened
/// non-blocking, its type taken from the opened descriptor (fstat), and anything but a regular file refused before a
/// byte is read;</item>
/// <item>checking a path and then opening it is a race (a symlink swapped in between): the identity (device, inode,
/// length, mtime) and the resolved path (<c>/proc/self/fd/N</c>) describe the file that is open, so confinement and
/// "same file as before" checks are made on what will be read;</item>
/// <item>memory must not depend on what a stranger wrote: <see cref="ReadAllBytes"/> refuses a file above a limit
/// before reading it, and <see cref="OpenBoundedStream"/> never reads past the length seen at open.</item>
/// </list>
/// </summary>
public sealed partial class RegularFile : IDisposable
{
    private RegularFile(string path, SafeFileHandle handle, FileIdentity identity, string resolvedPath)
    {
        Path = path;
        Handle = handle;
        Identity = identity;
        ResolvedPath = resolvedPath;
    }

    /// <summary>The path as the caller gave it (for messages).</summary>
    public string Path { get; }

    /// <summary>The absolute path of the file that is open, every symbolic link resolved.</summary>
    public string ResolvedPath { get; }

    public SafeFileHandle Handle { get; }

    public FileIdentity Identity { get; }

    public long Length => Identity.Length;

    /// <summary>Opens <paramref name="path"/> (following symbolic links) if it is a regular file of at most <paramref name="maxLength"/> bytes.</summary>
    /// <param name="role">What the file is, for messages: "manifest", "private key", "image", …</param>
    /// <param name="tooLargeKind">The error kind of a file over the limit: a bad parameter, or a hostile bundle.</param>
    public static RegularFile Open(string path, string role, long maxLength = long.MaxValue,
        BundleErrorKind tooLargeKind = BundleErrorKind.InvalidParameter)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw BundleException.InvalidParameter($"no {role} was given");
        }

        RegularFile file = OperatingSystem.IsLinux() ? OpenLinux(path, role) : OpenPortable(path, role);
        if (file.Length > maxLength)
        {
            file.Dispose();
            throw new BundleException(tooLargeKind,
                $"{role} '{path}' is {file.Length} bytes, more than the {maxLength} bytes a {role} may have; it is not a {role} or it is hostile");
        }

        return file;
    }

    /// <summary>The whole file (at most the limit given at open); a file that changes length while read is refused.</summary>
    public byte[] ReadAllBytes()
    {
        byte[] data = new byte[Length];
        int filled = 0;
        while (filled < data.Length)
        {
            int n = RandomAccess.Read(Handle, data.AsSpan(filled), filled);
            if (n == 0)
            {
                throw Changed();
            }

            filled += n;
        }

        Span<byte> probe = stackalloc byte[1];
        if (RandomAccess.Read(Handle, probe, filled) != 0)
        {
            throw Changed();
        }

        return data;
    }

    /// <summary>A forward-only stream of exactly <see cref="Length"/> bytes that owns this file's handle; a file that shrank is an error.</summary>
    public Stream OpenBoundedStream() =>
        new Unbundling.ExactLengthStream(new FileStream(Handle, FileAccess.Read, 1 << 16), Length, $"'{Path}'");

    /// <summary>Throws unless the open file is the one described by <paramref name="expected"/> (same inode, length and mtime).</summary>
    public void RequireIdentity(string expected, string role)
    {
        string actual = Identity.ToString();
        if (!string.Equals(actual, expected, StringComparison.Ordinal))
        {
            throw new BundleException(BundleErrorKind.Failed,
                $"{role} '{Path}' is no longer the file that was planned (device:inode:length:mtime was {expected}, now {actual}); it was replaced or rewritten, and a bundle must not mix two versions");
        }
    }

    private BundleException Changed() => new(BundleErrorKind.Failed, $"'{Path}' changed length while it was being read");

    public void Dispose() => Handle.Dispose();

    /// <summary>The identity of an already open descriptor (device and inode only where statx is unavailable).</summary>
    public static FileIdentity IdentityOf(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux())
        {
            return new FileIdentity(0, 0, RandomAccess.GetLength(handle), 0);
        }

        if (NativeStatx(handle, "", EmptyPath, BasicStats, out StatxBuffer stat) != 0)
        {
            throw new BundleException(BundleErrorKind.Failed, $"cannot inspect an open file (errno {Marshal.GetLastPInvokeError()})");
        }

        return IdentityFrom(stat);
    }

    private static FileIdentity IdentityFrom(in StatxBuffer stat) =>
        new(((ulong)stat.DeviceMajor << 32) | stat.DeviceMinor, stat.Inode, (long)stat.Size,
            (stat.MtimeSeconds * 1_000_000_000) + stat.MtimeNanoseconds);

    private static RegularFile OpenLinux(string path, string role)
    {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; it has no effect on regular files.
        int fd = NativeOpen(path, ReadOnly | NonBlocking | CloseOnExec);
        if (fd < 0)
        {
            throw OpenError(path, role, Marshal.GetLastPInvokeError());
        }

        var handle = new SafeFileHandle((nint)fd, ownsHandle: true);
        try
        {
            if (NativeStatx(handle, "", EmptyPath, BasicStats, out StatxBuffer stat) != 0)
            {
                throw new BundleException(BundleErrorKind.Failed, $"cannot inspect {role} '{path}' (errno {Marshal.GetLastPInvokeError()})");
            }

            RequireRegular(KindOf(stat.Mode), path, role);
            FileIdentity identity = IdentityFrom(stat);
            string resolved = new FileInfo($"/proc/self/fd/{fd}").LinkTarget ?? System.IO.Path.GetFullPath(path);
            return new RegularFile(path, handle, identity, resolved);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static RegularFile OpenPortable(string path, string role)
    {
        // Elsewhere than Linux there is no cheap way to ask the descriptor; check the path, then open it.
        if (Directory.Exists(path))
        {
            RequireRegular(FileKind.Directory, path, role);
        }

        if (!File.Exists(path))
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"{role} '{path}' does not exist");
        }

        SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var info = new FileInfo(path);
        long mtime = (info.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100;
        return new RegularFile(path, handle, new FileIdentity(0, 0, RandomAccess.GetLength(handle), mtime), info.FullName);
    }

    /// <summary>One line that says what the object is and what to do instead.</summary>
    private static void RequireRegular(FileKind kind, string path, string role)
    {
        string? what = kind switch
        {
            FileKind.Regular => null,
            FileKind.Directory => "a directory",
            FileKind.Fifo => "a FIFO (named pipe)",
            FileKind.CharacterDevice => "a character device",
            FileKind.BlockDevice => "a block device (copy it to an image file first, for example with dd, and bundle that)",
            FileKind.Socket => "a socket",
            _ => "not a regular file",
        };
        if (what is not null)
        {
            throw BundleException.InvalidParameter($"{role} '{path}' is {what}; only regular files are read");
        }
    }

    private static BundleException OpenError(string path, string role, int errno) => errno switch
    {
        NoSuchFile => new BundleException(BundleErrorKind.FileNotFound, $"{role} '{path}' does not exist"),
        NotADirectory => new BundleException(BundleErrorKind.FileNotFound, $"{role} '{path}' does not exist (a component of the path is not a directory)"),
        AccessDenied or NotPermitted => BundleException.InvalidParameter($"{role} '{path}' is not readable (permission denied)"),
        TooManyLinks => BundleException.InvalidParameter($"{role} '{path}' is a loop of symbolic links"),
        NoDeviceOrAddress => BundleException.InvalidParameter($"{role} '{path}' is a socket or a device without a reader; only regular files are read"),
        _ => new BundleException(BundleErrorKind.Failed, $"cannot open {role} '{path}' (errno {errno})"),
    };

    private static FileKind KindOf(ushort mode) => (mode & 0xF000) switch
    {
        0x8000 => FileKind.Regular,
        0x4000 => FileKind.Directory,
        0x1000 => FileKind.Fifo,
        0x2000 => FileKind.CharacterDevice,
        0x6000 => FileKind.BlockDevice,
        0xC000 => FileKind.Socket,
        _ => FileKind.Other,
    };

    // Linux open(2) flags and errno values; identical on x86-64 and arm64 for the ones used here.
    private const int ReadOnly = 0;
    private const int NonBlocking = 0x800;
    private const int CloseOnExec = 0x80000;
    private const int EmptyPath = 0x1000; // AT_EMPTY_PATH: statx the descriptor itself
    private const uint BasicStats = 0x7FF; // STATX_BASIC_STATS
    private const int NotPermitted = 1, NoSuchFile = 2, NoDeviceOrAddress = 6, AccessDenied = 13, NotADirectory = 20, TooManyLinks = 40;

    /// <summary>
    /// struct statx (linux/stat.h): unlike struct stat its layout is the same on every architecture, so one
    /// declaration serves x86-64 and arm64.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(112)] public long MtimeSeconds;
        [FieldOffset(120)] public uint MtimeNanoseconds;
        [FieldOffset(136)] public uint DeviceMajor;
        [FieldOffset(140)] public uint DeviceMinor;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int NativeOpen(string path, int flags);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int NativeStatx(SafeFileHandle dirfd, string path, int flags, uint mask, out StatxBuffer buffer);
}
