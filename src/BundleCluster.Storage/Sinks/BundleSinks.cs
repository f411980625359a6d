using BundleCluster.Format.Errors;

namespace BundleCluster.Storage.Sinks;

/// <summary>Opens the sink a destination string names.</summary>
public static class BundleSinks
{
    public static IBundleSink Open(string destination, string jobId)
    {
        if (destination.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
        {
            throw BundleException.InvalidParameter($"destination '{destination}': S3 destinations are not supported yet; give a directory");
        }

        return new DirectoryBundleSink(destination, jobId);
    }
}
