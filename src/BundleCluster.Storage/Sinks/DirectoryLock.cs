using BundleCluster.Format.Files;
using Microsoft.Win32.SafeHandles;

namespace BundleCluster.Storage.Sinks;

/// <summary>
/// An exclusive lock on a file in a directory, taken without waiting: flock(2) on an open descriptor, which the
/// kernel releases when the holder closes it or dies, so a crash can never leave it stuck. (.NET takes exactly this
/// lock, LOCK_EX|LOCK_NB, for FileShare.None on Unix.) The lock file is removed on release; a taker checks after
/// locking that the path still names the file it locked, so a release racing with a take cannot give two holders.
/// </summary>
public sealed class DirectoryLock : IDisposable
{
    private readonly FileStream _stream;

    /// <summary>True for a probe (<see cref="IsHeld"/>): release without removing the file it did not create.</summary>
    private readonly bool _keepFile;

    private DirectoryLock(string path, FileStream stream, bool keepFile = false)
    {
        Path = path;
        _stream = stream;
        _keepFile = keepFile;
    }

    public string Path { get; }

    /// <summary>The lock, or null when another process (or another job in this one) holds it.</summary>
    public static DirectoryLock? TryTake(string path)
    {
        if (new FileInfo(path).LinkTarget is not null)
        {
            return null; // a planted link: never open, lock or remove what it points to
        }

        for (int attempt = 0; attempt < 3; attempt++)
        {
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException) when (File.Exists(path))
            {
                return null; // EWOULDBLOCK: held
            }

            if (SameFile(stream.SafeFileHandle, path))
            {
                return new DirectoryLock(path, stream);
            }

            stream.Dispose(); // the holder released and removed it between our open and our lock: take the new one
        }

        return null;
    }

    /// <summary>True when <paramref name="path"/> is locked by a live holder right now.</summary>
    public static bool IsHeld(string path)
    {
        using DirectoryLock? taken = TryTakeExisting(path);
        return taken is null && File.Exists(path);
    }

    private static DirectoryLock? TryTakeExisting(string path)
    {
        try
        {
            var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            return new DirectoryLock(path, stream, keepFile: true);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static bool SameFile(SafeFileHandle handle, string path)
    {
        try
        {
            using RegularFile named = RegularFile.Open(path, "lock file");
            FileIdentity held = RegularFile.IdentityOf(handle);
            return named.Identity.Device == held.Device && named.Identity.Inode == held.Inode;
        }
        catch (Format.Errors.BundleException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        if (!_keepFile)
        {
            try
            {
                File.Delete(Path); // while still holding it: a later taker re-checks the path (see TryTake)
            }
            catch (DirectoryNotFoundException)
            {
                // its directory is already gone
            }
        }

        _stream.Dispose();
    }
}
