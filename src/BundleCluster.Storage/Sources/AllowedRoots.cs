using BundleCluster.Format.Errors;
using BundleCluster.Format.Files;

namespace BundleCluster.Storage.Sources;

/// <summary>
/// Confines the paths a job names (image, key files, destination) to configured directories, after resolving every
/// symbolic link, so neither "..", nor a link inside a root pointing out of it, lets a client make a silo read or
/// write an arbitrary file. Files that are read are checked as opened (<see cref="RequireOpened"/>: the path the
/// kernel opened), so swapping a symlink in after the check changes nothing.
/// </summary>
public static class AllowedRoots
{
    /// <summary>Throws unless <paramref name="path"/> resolves to a path under one of <paramref name="roots"/> (none = anywhere).</summary>
    public static void Require(string path, IReadOnlyCollection<string> roots, string what)
    {
        if (roots.Count == 0)
        {
            return;
        }

        string? resolved = RealPath.Resolve(path);
        if (resolved is null)
        {
            return; // does not exist: opening it reports that, naming the file
        }

        RequireResolved(resolved, path, roots, what);
    }

    /// <summary>Throws unless the opened file lies under one of <paramref name="roots"/> (none = anywhere).</summary>
    public static void RequireOpened(RegularFile file, IReadOnlyCollection<string> roots, string what)
    {
        if (roots.Count > 0)
        {
            RequireResolved(file.ResolvedPath, file.Path, roots, what);
        }
    }

    private static void RequireResolved(string resolved, string path, IReadOnlyCollection<string> roots, string what)
    {
        foreach (string root in roots)
        {
            // The root itself counts (a destination directory may be the allowed directory).
            if (RealPath.Resolve(root) is { } resolvedRoot && (resolved == resolvedRoot || RealPath.IsUnder(resolved, resolvedRoot)))
            {
                return;
            }
        }

        throw BundleException.InvalidParameter(
            $"{what} '{path}' is outside the directories this cluster may use ({string.Join(", ", roots)}); ask the operator or move it");
    }
}
