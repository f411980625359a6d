using BundleCluster.Format;
using BundleCluster.Format.Errors;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace BundleCluster.Storage.Sources;

/// <summary>
/// Reads an image file at any offset. The length and modification time seen at open are the image's identity: a reader
/// opened later for the same job must see the same ones, so a file rewritten mid-job fails the job instead of mixing
/// two versions into one bundle.
/// </summary>
public sealed partial class FileImageReader : IImageReader
{
    private readonly SafeFileHandle _handle;

    private FileImageReader(string path, SafeFileHandle handle, long length, string version)
    {
        Path = path;
        _handle = handle;
        Length = length;
        Version = version;
    }

    public string Path { get; }

    public long Length { get; }

    /// <summary>Length and modification time, as a string a job can pin and compare.</summary>
    public string Version { get; }

    /// <param name="expectedVersion">When given, the image must still be the version the job planned against.</param>
    public static FileImageReader Open(string path, string? expectedVersion = null)
    {
        if (Directory.Exists(path))
        {
            throw BundleException.InvalidParameter($"image '{path}' is a directory, not an image file");
        }

        if (!File.Exists(path))
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"image '{path}' does not exist");
        }

        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new BundleException(BundleErrorKind.InvalidParameter, $"image '{path}' is not readable: {ex.Message}", ex);
        }

        long length = RandomAccess.GetLength(handle);
        var info = new FileInfo(path);
        string version = $"{length}:{info.LastWriteTimeUtc.Ticks}";
        if (expectedVersion is not null && expectedVersion != version)
        {
            handle.Dispose();
            throw new BundleException(BundleErrorKind.Failed,
                $"image '{path}' changed while it was being bundled (was {expectedVersion}, now {version}); the bundle would mix two versions");
        }

        return new FileImageReader(path, handle, length, version);
    }

    /// <summary>The image's modification time in Unix seconds, which GNU tar records in the member header.</summary>
    public long MtimeUnixSeconds => Math.Max(0, new DateTimeOffset(File.GetLastWriteTimeUtc(Path)).ToUnixTimeSeconds());

    public async ValueTask ReadExactlyAtAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        int filled = 0;
        while (filled < destination.Length)
        {
            int n = await RandomAccess.ReadAsync(_handle, destination[filled..], offset + filled, ct).ConfigureAwait(false);
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

        long nextData = SeekData(_handle, offset, SeekDataWhence);
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
        _handle.Dispose();
        return ValueTask.CompletedTask;
    }
}
