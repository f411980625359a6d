using BundleCluster.Format;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Files;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace BundleCluster.Storage.Sources;

/// <summary>
/// Reads an image file at any offset. Only a regular file is opened (a FIFO, a device or <c>/proc</c> file is refused
/// with one line: none has a size that can be planned). The identity of the opened file — device, inode, length,
/// mtime in nanoseconds — is the image's version: every later reader of the same job (chunk workers, the digest, on
/// any silo) must open the same version, so a file replaced by a rename or a symlink swap, or rewritten with a new
/// length or time, fails the job instead of mixing two versions into one bundle.
/// </summary>
public sealed partial class FileImageReader : IImageReader
{
    private readonly RegularFile _file;

    private FileImageReader(RegularFile file) => _file = file;

    public string Path => _file.Path;

    public long Length => _file.Length;

    /// <summary>device:inode:length:mtime-ns of the opened file, as a string a job can pin and compare.</summary>
    public string Version => _file.Identity.ToString();

    /// <param name="expectedVersion">When given, the image must still be the version the job planned against.</param>
    /// <param name="admit">Sees the opened file before it is used (a cluster checks its resolved path against its roots).</param>
    public static FileImageReader Open(string path, string? expectedVersion = null, Action<RegularFile>? admit = null)
    {
        RegularFile file = RegularFile.Open(path, "image");
        try
        {
            admit?.Invoke(file);
            if (expectedVersion is not null)
            {
                file.RequireIdentity(expectedVersion, "image");
            }

            // /proc and /sys files report 0 bytes and then produce data: bundling by size would make an empty bundle of
            // something that is not empty. (A truly empty file bundles, as ec2-bundle-image bundles it.)
            Span<byte> probe = stackalloc byte[1];
            if (file.Length == 0 && RandomAccess.Read(file.Handle, probe, 0) > 0)
            {
                throw BundleException.InvalidParameter(
                    $"image '{path}' reports a size of 0 bytes but has content (a /proc or /sys file); only regular files of a fixed size are bundled");
            }

            return new FileImageReader(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The image's modification time in Unix seconds, which GNU tar records in the member header.</summary>
    public long MtimeUnixSeconds => _file.Identity.MtimeUnixSeconds;

    public async ValueTask ReadExactlyAtAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        int filled = 0;
        while (filled < destination.Length)
        {
            int n = await RandomAccess.ReadAsync(_file.Handle, destination[filled..], offset + filled, ct).ConfigureAwait(false);
            if (n == 0)
            {
                throw new BundleException(BundleErrorKind.Failed,
                    $"image '{Path}' ended at {offset + filled} bytes, short of the {Length} it had when bundling started; it changed while being bundled");
            }

            filled += n;
        }
    }

    /// <summary>
    /// Asks the file system (lseek SEEK_DATA) whether any data lies in the range. Holes in sparse images are the
    /// cheapest bytes there are: nothing to read and nothing to compress.
    /// </summary>
    public bool IsHole(long offset, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0)
        {
            return false;
        }

        long nextData = SeekData(_file.Handle, offset, SeekDataWhence);
        if (nextData < 0)
        {
            // ENXIO: no data at or after offset (a trailing hole). Any other error: we cannot tell.
            return Marshal.GetLastPInvokeError() == NoDataAfterOffset;
        }

        return nextData >= offset + length;
    }

    private const int SeekDataWhence = 3; // SEEK_DATA
    private const int NoDataAfterOffset = 6; // ENXIO

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long SeekData(SafeFileHandle fd, long offset, int whence);

    public ValueTask DisposeAsync()
    {
        _file.Dispose();
        return ValueTask.CompletedTask;
    }
}
