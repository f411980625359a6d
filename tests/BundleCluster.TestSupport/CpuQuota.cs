using System.Globalization;

namespace BundleCluster.TestSupport;

/// <summary>
/// A cgroup (v1 cpu controller) with a CFS quota: processes started in it get at most that share of one core, so on
/// this 2-core machine more silos really are more machine, as pods on a real cluster are. Removed on dispose, once
/// its processes are gone.
/// </summary>
public sealed class CpuQuota : IDisposable
{
    private const string Controller = "/sys/fs/cgroup/cpu";

    /// <param name="cores">The share of one core, e.g. 0.5.</param>
    public CpuQuota(double cores)
    {
        Path = System.IO.Path.Combine(Controller, "bundlecluster-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
        const int period = 100_000;
        File.WriteAllText(System.IO.Path.Combine(Path, "cpu.cfs_period_us"), period.ToString(CultureInfo.InvariantCulture));
        File.WriteAllText(System.IO.Path.Combine(Path, "cpu.cfs_quota_us"), ((int)(cores * period)).ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>The cgroup's directory; a process joins by writing its PID to <c>cgroup.procs</c>.</summary>
    public string Path { get; }

    /// <summary>Whether this machine offers the cgroup v1 cpu controller to us (root, cgroup v1).</summary>
    public static bool Available => File.Exists(System.IO.Path.Combine(Controller, "cpu.cfs_quota_us"));

    public void Dispose()
    {
        for (int attempt = 0; attempt < 50 && Directory.Exists(Path); attempt++)
        {
            try
            {
                Directory.Delete(Path); // rmdir: a cgroup goes once its last process has
            }
            catch (IOException)
            {
                Thread.Sleep(100); // a process is still exiting
            }
        }
    }
}
