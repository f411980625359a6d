using System.Runtime.InteropServices;

namespace BundleCluster.Format.Files;

/// <summary>realpath(3): the absolute path with every symbolic link, "." and ".." resolved, or null if it does not exist.</summary>
public static partial class RealPath
{
    public static string? Resolve(string path)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return File.Exists(path) || Directory.Exists(path) ? Path.GetFullPath(path) : null;
        }

        nint resolved = NativeRealPath(path, 0);
        if (resolved == 0)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            NativeFree(resolved);
        }
    }

    /// <summary>True when <paramref name="resolvedPath"/> lies strictly inside <paramref name="resolvedDirectory"/>.</summary>
    public static bool IsUnder(string resolvedPath, string resolvedDirectory) =>
        resolvedPath.StartsWith(resolvedDirectory.TrimEnd('/') + "/", StringComparison.Ordinal);

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint NativeRealPath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void NativeFree(nint pointer);
}
