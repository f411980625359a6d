using System.Diagnostics;
using System.Globalization;

namespace BundleCluster.TestSupport;

/// <summary>A real bundle-silo process on 127.0.0.1; killed (SIGKILL) or stopped (SIGTERM) by the test, always reaped.</summary>
public sealed class SiloProcess : IDisposable
{
    private readonly LoggedProcess _process;

    /// <param name="environment">Extra environment of the process (OTEL_* settings).</param>
    /// <param name="flags">More bundle-silo flags (--max-running-jobs 1).</param>
    /// <param name="cpuQuota">A CPU quota to run the silo under (its process joins the cgroup before .NET starts).</param>
    public SiloProcess(string redis, string clusterId, IEnumerable<string> allowedRoots, string? serviceId = null,
        IReadOnlyDictionary<string, string>? environment = null, IEnumerable<string>? flags = null, CpuQuota? cpuQuota = null)
    {
        SiloPort = RedisServer.FreePort();
        GatewayPort = RedisServer.FreePort();
        HttpPort = RedisServer.FreePort();
        var psi = new ProcessStartInfo(cpuQuota is null ? "dotnet" : "sh");
        if (cpuQuota is not null)
        {
            // The shell joins the cgroup, then becomes dotnet (exec: same PID, so signals and kills reach the silo).
            foreach (string arg in (string[])["-c", "echo $$ > \"$0/cgroup.procs\" && exec dotnet \"$@\"", cpuQuota.Path])
            {
                psi.ArgumentList.Add(arg);
            }
        }

        foreach (string arg in (string[])[RepositoryPaths.SiloDll, "--redis", redis, "--cluster-id", clusterId, "--service-id", serviceId ?? clusterId,
                     "--http-port", HttpPort.ToString(CultureInfo.InvariantCulture),
                     "--silo-port", SiloPort.ToString(CultureInfo.InvariantCulture), "--gateway-port", GatewayPort.ToString(CultureInfo.InvariantCulture),
                     "--advertise", "127.0.0.1", .. allowedRoots.SelectMany(r => new[] { "--allowed-root", r }), .. flags ?? []])
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["BUNDLECLUSTER_JIT_PROFILE_DIR"] = "off"; // no start-up JIT profile in the user's cache from tests
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }

        _process = new LoggedProcess(psi);
    }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    /// <summary>The port of /health/live and /health/ready on 127.0.0.1.</summary>
    public int HttpPort { get; }

    public bool HasExited => _process.HasExited;

    public string Log => _process.Log;

    /// <summary>Waits until the silo's log says Orleans started (or fails with the log).</summary>
    public Task WaitStartedAsync() => _process.WaitForLogAsync("Application started", "bundle-silo", TimeSpan.FromSeconds(60));

    /// <summary>SIGKILL: a crash, no goodbye.</summary>
    public void Kill() => _process.Kill();

    /// <summary>SIGTERM: the graceful stop Kubernetes sends a pod (a scale-in, a drain).</summary>
    public void Terminate() => _process.Signal("TERM");

    /// <summary>The exit code after <see cref="Terminate"/>; fails with the silo's log if it takes longer than <paramref name="within"/>.</summary>
    public Task<int> WaitForExitAsync(TimeSpan within) => _process.WaitForExitAsync(within);

    public void Dispose() => _process.Dispose();
}
