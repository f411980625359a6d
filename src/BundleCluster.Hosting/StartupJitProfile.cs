using System.Runtime;

namespace BundleCluster.Hosting;

/// <summary>
/// Background JIT at start-up from a profile of the previous run (.NET's multi-core JIT,
/// <see cref="ProfileOptimization"/>). The methods ReadyToRun cannot precompile (a few thousand generic
/// instantiations, Orleans' and ours over the framework's) are JIT-compiled on the second core while the first starts
/// the silo, instead of one by one on the first call: a 1 MiB bundle-image job takes ~0.77 s instead of ~0.94 s
/// (docs/benchmarks.md, "Start-up"). The first run of a command records its profile; it is written at exit.
/// </summary>
/// <remarks>
/// Profiles live in <c>$BUNDLECLUSTER_JIT_PROFILE_DIR</c>, else <c>$XDG_CACHE_HOME/bundlecluster</c>, else
/// <c>~/.cache/bundlecluster</c>; <c>BUNDLECLUSTER_JIT_PROFILE_DIR=off</c> turns them off. A profile only names methods
/// to compile early, so a stale, foreign or damaged one costs start-up time, never correctness (the runtime checks
/// each module's identity and skips what does not match). Where no directory can be made (a read-only file system),
/// the program runs as before.
/// </remarks>
public static class StartupJitProfile
{
    public const string DirectoryVariable = "BUNDLECLUSTER_JIT_PROFILE_DIR";
    public const string Off = "off";

    /// <summary>Starts recording (and replaying) the profile of <paramref name="program"/>, or of its
    /// <paramref name="command"/> when that looks like a command name (commands JIT-compile different code).</summary>
    /// <returns>The profile's path, or null when profiling is off or no directory could be made.</returns>
    public static string? Start(string program, string? command = null)
    {
        string? directory = ProfileDirectory();
        if (directory is null)
        {
            return null;
        }

        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // The name comes from the command line: only a plain command word names a file, anything else is the program's.
        string name = command is not null && IsCommandWord(command) ? $"{program}-{command}" : program;
        string file = name + ".jitprofile";
        ProfileOptimization.SetProfileRoot(directory);
        ProfileOptimization.StartProfile(file);
        return Path.Combine(directory, file);
    }

    private static string? ProfileDirectory()
    {
        string? configured = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (!string.IsNullOrEmpty(configured))
        {
            return string.Equals(configured, Off, StringComparison.OrdinalIgnoreCase) ? null : configured;
        }

        string? cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(cache))
        {
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (string.IsNullOrEmpty(home))
            {
                return null;
            }

            cache = Path.Combine(home, ".cache");
        }

        return Path.Combine(cache, "bundlecluster");
    }

    // Plain checks, not a Regex: this runs before anything else, where every type loaded costs start-up time.
    private static bool IsCommandWord(string word) =>
        word.Length is > 0 and <= 40 && char.IsAsciiLetterLower(word[0])
        && word.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');
}
