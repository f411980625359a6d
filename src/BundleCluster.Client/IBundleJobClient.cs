using BundleCluster.Abstractions.Jobs;

namespace BundleCluster.Client;

/// <summary>
/// Following jobs, whichever way in: the Orleans client (<see cref="BundleClusterClient"/>) or bundle-api over HTTP
/// (<see cref="Service.BundleServiceClient"/>). Submitting differs (a spec with key paths inside the cluster, a request
/// naming an identity from outside), so it is not part of this.
/// </summary>
public interface IBundleJobClient
{
    /// <exception cref="UnknownBundleJobException">No such job (for bundle-api: none of the caller's tenant).</exception>
    Task<BundleJobStatus> GetStatusAsync(string jobId, CancellationToken ct = default);

    /// <summary>The job's status on every change, ending with its final status.</summary>
    IAsyncEnumerable<BundleJobStatus> FollowAsync(string jobId, CancellationToken ct = default);

    Task<BundleJobStatus> CancelAsync(string jobId, CancellationToken ct = default);

    /// <summary>The most recent jobs, newest first (for bundle-api: the caller's tenant's).</summary>
    Task<IReadOnlyList<BundleJobStatus>> ListJobsAsync(int max = 100, CancellationToken ct = default);
}

/// <summary>What either client does the same way on top of <see cref="IBundleJobClient"/>.</summary>
public static class BundleJobClientExtensions
{
    /// <summary>Waits for the job to finish; returns its status if it completed.</summary>
    /// <exception cref="BundleJobFailedException">The job failed or was cancelled.</exception>
    public static async Task<BundleJobStatus> WaitAsync(this IBundleJobClient client, string jobId, IProgress<BundleJobStatus>? progress = null,
        CancellationToken ct = default)
    {
        BundleJobStatus? final = null;
        await foreach (BundleJobStatus status in client.FollowAsync(jobId, ct))
        {
            progress?.Report(status);
            final = status;
        }

        return final!.State == BundleJobState.Completed ? final : throw new BundleJobFailedException(final);
    }
}
