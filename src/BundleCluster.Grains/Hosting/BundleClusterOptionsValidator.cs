using Microsoft.Extensions.Options;

namespace BundleCluster.Grains.Hosting;

/// <summary>
/// Refuses pipeline settings that could only fail later, mid-job (no slots: the first chunk waits forever; no slices
/// in flight: the sealer's window is empty; a root that does not exist: every job is refused). Checked when the silo
/// starts (<c>ValidateOnStart</c>), each failure one line naming the setting.
/// </summary>
public sealed class BundleClusterOptionsValidator : IValidateOptions<BundleClusterOptions>
{
    public ValidateOptionsResult Validate(string? name, BundleClusterOptions options)
    {
        var failures = new List<string>();
        if (options.CompressionSlots is < 1 or > 4096)
        {
            failures.Add($"CompressionSlots (--compression-slots) is {options.CompressionSlots}; it must be 1-4096");
        }

        if (options.SlicesInFlight is < 1 or > 4096)
        {
            failures.Add($"SlicesInFlight (--slices-in-flight) is {options.SlicesInFlight}; it must be 1-4096");
        }

        if (options.MaxRunningJobs is < 0 or > 100_000)
        {
            failures.Add($"MaxRunningJobs (--max-running-jobs) is {options.MaxRunningJobs}; it must be 0 (one per compression slot) to 100000");
        }

        Positive(options.QueueCheckInterval, nameof(options.QueueCheckInterval), failures);
        Positive(options.ChunkCallTimeout, nameof(options.ChunkCallTimeout), failures);
        Positive(options.SliceRetryWindow, nameof(options.SliceRetryWindow), failures);
        Positive(options.WatchdogInterval, nameof(options.WatchdogInterval), failures);
        foreach ((string setting, List<string> roots) in new[] { ("AllowedRoots (--allowed-root)", options.AllowedRoots), ("KeyRoots (--key-root)", options.KeyRoots) })
        {
            foreach (string root in roots.Where(r => !Directory.Exists(r)))
            {
                failures.Add($"{setting} names '{root}', which is not an existing directory");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Positive(TimeSpan value, string setting, List<string> failures)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{setting} is {value}; it must be positive");
        }
    }
}
