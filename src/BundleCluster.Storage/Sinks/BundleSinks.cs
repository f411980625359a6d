using BundleCluster.Storage.S3;

namespace BundleCluster.Storage.Sinks;

/// <summary>Opens the sink a destination string names.</summary>
public static class BundleSinks
{
    /// <param name="jobDiesWithProcess">True when the job cannot outlive this process (the embedded silo).</param>
    public static IBundleSink Open(string destination, string jobId, S3Settings? s3 = null, bool jobDiesWithProcess = false) =>
        StorageLocation.From(destination) switch
        {
            S3Location bucket => new S3BundleSink(bucket, jobId, s3 ?? S3Settings.Default),
            FileLocation directory => new DirectoryBundleSink(directory.Path, jobId, jobDiesWithProcess),
            var other => throw new NotSupportedException($"no sink writes to {other}"),
        };
}
