using System.Runtime.InteropServices;
using BundleCluster.Format.Errors;

namespace BundleCluster.Storage.Sources;

/// <summary>
/// Confines the paths a job names (image, key files, destination) to configured directories, after resolving every
/// symbolic link (realpath), so neither "..", nor a link inside a root pointing out of it, lets a client make a silo
/// read or write an arbitrary file.
/// </summary>
public static partial class AllowedRoots
{
    /// <summary>Throws unless <paramref name="path"/> resolves to a path under one of <paramref name="roots"/> (none = anywhere).</summary>
    public static void Require(string path, IReadOnlyCollection<string> roots, string what)
    {
        if (roots.Count == 0)
        {
            return;
        }

        string? resolved = RealPath(path);
        if (resolved is null)
        {
            return; // does not exist: opening it reports that, naming the file
        }

        foreach (string root in roots)
        {
            string? resolvedRoot = RealPath(root);
            if (resolvedRoot is not null && resolved.StartsWith(resolvedRoot.TrimEnd('/') + "/", StringComparison.Ordinal))
            {
                return;
            }
        }

        throw BundleException.InvalidParameter(
            $"{what} '{path}' is outside the directories this cluster may use ({string.Join(", ", roots)}); ask the operator or move it");
    }

    private static string? RealPath(string path)
    {
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

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint NativeRealPath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void NativeFree(nint pointer);
}
