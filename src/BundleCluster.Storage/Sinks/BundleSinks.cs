using BundleCluster.Storage.S3;

namespace BundleCluster.Storage.Sinks;

/// <summary>Opens the sink a destination string names.</summary>
public static class BundleSinks
{
    public static IBundleSink Open(string destination, string jobId, S3Settings? s3 = null) =>
        S3Location.IsS3(destination)
            ? new S3BundleSink(S3Location.Parse(destination), jobId, s3 ?? S3Settings.Default)
            : new DirectoryBundleSink(destination, jobId);
}
