using BundleCluster.Abstractions.Jobs;
using BundleCluster.Client;
using BundleCluster.TestSupport;

namespace BundleCluster.Cluster.Tests;

/// <summary>Specs and checks shared by the cluster tests.</summary>
internal static class ClusterJobs
{
    public static BundleJobSpec Spec(string directory, string image, string destination, int level = 6, int sliceSize = 1 << 20)
    {
        TestIdentity user = TestIdentity.User(directory);
        return new BundleJobSpec
        {
            ImagePath = image,
            Destination = destination,
            User = "123456789012",
            UserCertificatePath = user.CertificatePath,
            PrivateKeyPath = user.PrivateKeyPath,
            CloudCertificatePath = TestIdentity.Cloud(directory).CertificatePath,
            CompressionLevel = level,
            SliceSize = sliceSize,
        };
    }

    /// <summary>An image that takes a few seconds to bundle at level 9 on this machine: text and random runs.</summary>
    public static string BusyImage(string path, long size, int seed) => TestImages.Create(path, size, seed);

    /// <summary>Waits until the job has sealed at least <paramref name="fraction"/> of its tar stream.</summary>
    public static async Task<BundleJobStatus> WaitForProgressAsync(BundleClusterClient client, string jobId, double fraction)
    {
        await foreach (BundleJobStatus s in client.WatchAsync(jobId, TimeSpan.FromMilliseconds(100)))
        {
            if (s.IsFinished || (s.TarBytes > 0 && s.TarBytesSealed >= fraction * s.TarBytes))
            {
                return s;
            }
        }

        throw new InvalidOperationException("the job ended without a final status");
    }

    /// <summary>The silo process running the job's sealer, as its status names it.</summary>
    public static SiloProcess SealerOf(IEnumerable<SiloProcess> silos, BundleJobStatus status) =>
        silos.Single(s => status.SealerSilo!.Contains($":{s.SiloPort}:", StringComparison.Ordinal));

    /// <summary>The bundle restores byte-identical with openssl, gzip and tar, and verifies with our own unbundler.</summary>
    public static async Task AssertRestoresAsync(string workDirectory, BundleJobStatus done, string image)
    {
        Assert.Equal(BundleJobState.Completed, done.State);
        TestIdentity user = TestIdentity.User(workDirectory);
        string restored = ClassicPipeline.Restore(workDirectory, done.ManifestPath!, user);
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, Path.GetFileName(image))));
        await VerifyAsync(done.ManifestPath!, user);
    }

    /// <summary>Our own unbundler checks everything (signature, parts, padding, gzip, tar digest) and writes nothing.</summary>
    public static Task VerifyAsync(string manifestPath, TestIdentity user) =>
        BundleCluster.Format.Unbundling.Unbundler.RunAsync(new(manifestPath, user.PrivateKeyPath,
            BundleCluster.Format.Unbundling.DirectoryPartSource.ForDirectory(Path.GetDirectoryName(manifestPath)!), null, user.CertificatePath));
}
