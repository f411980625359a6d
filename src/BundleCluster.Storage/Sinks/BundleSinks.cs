using BundleCluster.Storage.S3;

namespace BundleCluster.Storage.Sinks;

/// <summary>Opens the sink a destination string names.</summary>
public static class BundleSinks
{
    /// <param name="jobDiesWithProcess">True when the job cannot outlive this process (the embedded silo).</param>
    public static IBundleSink Open(string destination, string jobId, S3Settings? s3 = null, bool jobDiesWithProcess = false) =>
        S3Location.IsS3(destination)
            ? new S3BundleSink(S3Location.Parse(destination), jobId, s3 ?? S3Settings.Default)
            : new DirectoryBundleSink(destination, jobId, jobDiesWithProcess);
}
