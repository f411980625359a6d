using System.Diagnostics;
using System.Globalization;

namespace BundleCluster.TestSupport;

/// <summary>A real bundle-silo process on 127.0.0.1; killed (SIGKILL) or stopped (SIGTERM) by the test, always reaped.</summary>
public sealed class SiloProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringWriter _log = new();

    /// <param name="environment">Extra environment of the process (OTEL_* settings).</param>
    public SiloProcess(string redis, string clusterId, IEnumerable<string> allowedRoots, string? serviceId = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        SiloPort = RedisServer.FreePort();
        GatewayPort = RedisServer.FreePort();
        HttpPort = RedisServer.FreePort();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in (string[])[RepositoryPaths.SiloDll, "--redis", redis, "--cluster-id", clusterId, "--service-id", serviceId ?? clusterId,
                     "--http-port", HttpPort.ToString(CultureInfo.InvariantCulture),
                     "--silo-port", SiloPort.ToString(CultureInfo.InvariantCulture), "--gateway-port", GatewayPort.ToString(CultureInfo.InvariantCulture),
                     "--advertise", "127.0.0.1", .. allowedRoots.SelectMany(r => new[] { "--allowed-root", r })])
        {
            psi.ArgumentList.Add(arg);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }

        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { lock (_log) { _log.WriteLine(e.Data); } };
        _process.ErrorDataReceived += (_, e) => { lock (_log) { _log.WriteLine(e.Data); } };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    /// <summary>The port of /health/live and /health/ready on 127.0.0.1.</summary>
    public int HttpPort { get; }

    public bool HasExited => _process.HasExited;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Waits until the silo's log says Orleans started (or fails with the log).</summary>
    public async Task WaitStartedAsync()
    {
        for (int i = 0; i < 600; i++)
        {
            if (Log.Contains("Application started", StringComparison.Ordinal))
            {
                return;
            }

            if (_process.HasExited)
            {
                break;
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException("bundle-silo did not start:\n" + Log);
    }

    /// <summary>SIGKILL: a crash, no goodbye.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.WaitForExit(10_000);
        _process.Dispose();
    }
}
