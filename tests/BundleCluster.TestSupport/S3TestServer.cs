namespace BundleCluster.TestSupport;

/// <summary>
/// A real S3-compatible server (fauxqs from npm, Node 22) on 127.0.0.1 and a free port, started with
/// deploy/s3-server.sh (which installs it on first use and checks the bound address) and stopped on dispose.
/// It does not check signatures; the credentials are set for this test process by UseTestCredentials.
/// </summary>
public sealed class S3TestServer : IDisposable
{
    private readonly TempDirectory _dir = new("s3");

    public S3TestServer()
    {
        Port = RedisServer.FreePort();
        UseTestCredentials();
        ExternalTool.Bash($"bash '{RepositoryPaths.Root}/deploy/s3-server.sh' start {Port} '{_dir.Path}'");
    }

    public int Port { get; }

    /// <summary>
    /// The credentials every S3 test uses, through the SDK's default chain (the environment). One value for the whole
    /// test process: s3rver checks the access key (S3RVER), fauxqs accepts any, and test classes run in parallel.
    /// </summary>
    public static void UseTestCredentials()
    {
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", "S3RVER");
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", "S3RVER");
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
    }

    public string EndpointUrl => $"http://127.0.0.1:{Port}";

    public void Dispose()
    {
        ExternalTool.Run("bash", [$"{RepositoryPaths.Root}/deploy/s3-server.sh", "stop", _dir.Path]);
        _dir.Dispose();
    }
}
