using System.Diagnostics;
using System.Globalization;

namespace BundleCluster.TestSupport;

/// <summary>A real bundle-api process on 127.0.0.1 (a free port), killed and reaped on dispose.</summary>
public sealed class ApiProcess : IDisposable
{
    private readonly LoggedProcess _process;

    /// <param name="flags">bundle-api's flags besides --redis, --urls and --cluster-id/--service-id.</param>
    public ApiProcess(string redis, string clusterId, IEnumerable<string> flags)
    {
        Port = RedisServer.FreePort();
        var psi = new ProcessStartInfo("dotnet");
        foreach (string arg in (string[])[RepositoryPaths.ApiDll, "--redis", redis, "--cluster-id", clusterId, "--service-id", clusterId,
                     "--urls", $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}", .. flags])
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["BUNDLECLUSTER_JIT_PROFILE_DIR"] = "off";
        _process = new LoggedProcess(psi);
    }

    public int Port { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}");

    public string Log => _process.Log;

    public bool HasExited => _process.HasExited;

    /// <summary>Waits until /health/ready answers 200 (the cluster is reachable through it).</summary>
    public async Task WaitReadyAsync()
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(60) && !_process.HasExited; await Task.Delay(200))
        {
            try
            {
                if ((await http.GetAsync("/health/ready")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException)
            {
                // not answering yet
            }
        }

        throw new Xunit.Sdk.XunitException($"bundle-api did not become ready:\n{Log}");
    }

    public void Dispose() => _process.Dispose();
}
