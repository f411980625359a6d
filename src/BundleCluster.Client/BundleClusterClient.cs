using System.Runtime.CompilerServices;
using BundleCluster.Abstractions.Jobs;

namespace BundleCluster.Client;

/// <summary>
/// Submits and follows bundle jobs. The same API works against an embedded silo and a clustered deployment: it only
/// needs an <see cref="IClusterClient"/> (or the grain factory of an in-process silo).
/// </summary>
/// <param name="grains">The cluster client, or an in-process silo's grain factory.</param>
/// <param name="pollInterval">How often status is read while watching (default 100 ms: a status read is one small call).</param>
public sealed class BundleClusterClient(IGrainFactory grains, TimeSpan? pollInterval = null)
{
    private readonly TimeSpan _pollInterval = pollInterval ?? TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Submits a job and returns its id at once; the work runs in the background. The same
    /// <paramref name="idempotencyKey"/> always names the same job, so a retried submit does not start a second one.
    /// </summary>
    /// <exception cref="BundleJobValidationException">The spec is invalid (bad account, missing image, key mismatch, …).</exception>
    public async Task<string> SubmitAsync(BundleJobSpec spec, string? idempotencyKey = null, CancellationToken ct = default)
    {
        string jobId = idempotencyKey ?? Guid.NewGuid().ToString("N");
        BundleJobStatus status = await grains.GetGrain<IBundleJobGrain>(jobId).StartAsync(spec).WaitAsync(ct);
        if (status.State == BundleJobState.Failed && status.ErrorField is not null)
        {
            throw new BundleJobValidationException(status.ErrorField, status.Error ?? "invalid job", status.ErrorKind ?? "InvalidParameter");
        }

        return jobId;
    }

    /// <exception cref="UnknownBundleJobException">No job has this id.</exception>
    public async Task<BundleJobStatus> GetStatusAsync(string jobId, CancellationToken ct = default)
    {
        BundleJobStatus status = await grains.GetGrain<IBundleJobGrain>(jobId).GetStatusAsync().WaitAsync(ct);
        return status.StartedAt is null ? throw new UnknownBundleJobException(jobId) : status;
    }

    /// <summary>Yields the job's status each time it changes, ending with its final status.</summary>
    public async IAsyncEnumerable<BundleJobStatus> WatchAsync(string jobId, TimeSpan? interval = null,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        BundleJobStatus? last = null;
        while (true)
        {
            BundleJobStatus status = await GetStatusAsync(jobId, ct);
            if (last is null || !SameProgress(last, status))
            {
                yield return status;
                last = status;
            }

            if (status.IsFinished)
            {
                yield break;
            }

            await Task.Delay(interval ?? _pollInterval, ct);
        }
    }

    /// <summary>Waits for the job to finish; returns its status if it completed.</summary>
    /// <exception cref="BundleJobFailedException">The job failed or was cancelled.</exception>
    public async Task<BundleJobStatus> WaitAsync(string jobId, IProgress<BundleJobStatus>? progress = null, CancellationToken ct = default)
    {
        BundleJobStatus? final = null;
        await foreach (BundleJobStatus status in WatchAsync(jobId, null, ct))
        {
            progress?.Report(status);
            final = status;
        }

        return final!.State == BundleJobState.Completed ? final : throw new BundleJobFailedException(final);
    }

    public Task<BundleJobStatus> CancelAsync(string jobId, string reason = "requested by client", CancellationToken ct = default) =>
        grains.GetGrain<IBundleJobGrain>(jobId).CancelAsync(reason).WaitAsync(ct);

    private static bool SameProgress(BundleJobStatus a, BundleJobStatus b) =>
        a.State == b.State && a.TarBytesSealed == b.TarBytesSealed && a.TarBytesDigested == b.TarBytesDigested && a.PartsWritten == b.PartsWritten;
}
