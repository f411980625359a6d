using System.Net;
using System.Net.Sockets;

namespace BundleCluster.TestSupport;

/// <summary>A real redis-server on 127.0.0.1 and a free port, started with deploy/redis.sh and shut down on dispose.</summary>
public sealed class RedisServer : IDisposable
{
    private readonly TempDirectory _dir = new("redis");

    public RedisServer()
    {
        Port = FreePort();
        Start();
    }

    /// <summary>Starts (again) on the same port and directory, loading what <see cref="Stop"/> saved.</summary>
    public void Start() => ExternalTool.Bash($"bash '{RepositoryPaths.Root}/deploy/redis.sh' start {Port} '{_dir.Path}'");

    /// <summary>Stops the server for real, saving its data first so a restart has the same state (an outage, not a wipe).</summary>
    public void Stop() => ExternalTool.Run("redis-cli", ["-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "shutdown", "save"]);

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        ExternalTool.Run("bash", [$"{RepositoryPaths.Root}/deploy/redis.sh", "stop", Port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        _dir.Dispose();
    }
}
