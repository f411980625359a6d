using System.Runtime.CompilerServices;
using BundleCluster.Abstractions.Jobs;

namespace BundleCluster.Client;

/// <summary>
/// Submits and follows bundle jobs. The same API works against an embedded silo and a clustered deployment: it only
/// needs an <see cref="IClusterClient"/> (or the grain factory of an in-process silo).
/// </summary>
/// <param name="grains">The cluster client, or an in-process silo's grain factory.</param>
/// <param name="pollInterval">How often status is read while watching (default 100 ms: a status read is one small call).</param>
public sealed class BundleClusterClient(IGrainFactory grains, TimeSpan? pollInterval = null) : IBundleJobClient
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
        BundleJobStatus status = await StartAsync(spec, jobId, ct);
        if (status.State == BundleJobState.Failed && status.ErrorField is not null)
        {
            throw new BundleJobValidationException(status.ErrorField, status.Error ?? "invalid job", status.ErrorKind ?? JobErrorKind.InvalidParameter);
        }

        return jobId;
    }

    /// <summary>
    /// Starts the job named <paramref name="jobId"/> (or finds the one already under it) and answers its status as the
    /// submit left it, refusals included, without throwing for them: for callers that map outcomes themselves.
    /// </summary>
    public Task<BundleJobStatus> StartAsync(BundleJobSpec spec, string jobId, CancellationToken ct = default) =>
        CallAsync(() => grains.GetGrain<IBundleJobGrain>(jobId).StartAsync(spec), ct);

    /// <exception cref="UnknownBundleJobException">No job has this id.</exception>
    public async Task<BundleJobStatus> GetStatusAsync(string jobId, CancellationToken ct = default)
    {
        BundleJobStatus status = await CallAsync(() => grains.GetGrain<IBundleJobGrain>(jobId).GetStatusAsync(), ct);
        return status.StartedAt is null ? throw new UnknownBundleJobException(jobId) : status;
    }

    /// <summary>
    /// Yields the job's status each time it changes, ending with its final status. A silo dying under the job makes
    /// its status unreachable for a few seconds (until membership declares it dead and the job resumes elsewhere);
    /// watching rides that out for up to <paramref name="unreachableFor"/> (default 2 minutes) before giving up.
    /// </summary>
    public async IAsyncEnumerable<BundleJobStatus> WatchAsync(string jobId, TimeSpan? interval = null, TimeSpan? unreachableFor = null,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        BundleJobStatus? last = null;
        DateTime lastAnswer = DateTime.UtcNow;
        while (true)
        {
            BundleJobStatus status;
            try
            {
                status = await GetStatusAsync(jobId, ct);
                lastAnswer = DateTime.UtcNow;
            }
            catch (ClusterUnreachableException) when (DateTime.UtcNow - lastAnswer < (unreachableFor ?? TimeSpan.FromMinutes(2)))
            {
                await Task.Delay(interval ?? _pollInterval, ct);
                continue;
            }

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

    IAsyncEnumerable<BundleJobStatus> IBundleJobClient.FollowAsync(string jobId, CancellationToken ct) => WatchAsync(jobId, ct: ct);

    Task<BundleJobStatus> IBundleJobClient.CancelAsync(string jobId, CancellationToken ct) => CancelAsync(jobId, "requested by client", ct);

    public Task<BundleJobStatus> CancelAsync(string jobId, string reason = "requested by client", CancellationToken ct = default) =>
        CallAsync(() => grains.GetGrain<IBundleJobGrain>(jobId).CancelAsync(reason), ct);

    /// <summary>The most recent jobs, newest first.</summary>
    public async Task<IReadOnlyList<BundleJobStatus>> ListJobsAsync(int max = 100, CancellationToken ct = default)
    {
        IReadOnlyList<string> ids = await CallAsync(() => grains.GetGrain<IJobRegistryGrain>(0).ListAsync(max), ct);
        return await Task.WhenAll(ids.Select(id => CallAsync(() => grains.GetGrain<IBundleJobGrain>(id).GetStatusAsync(), ct)));
    }

    /// <summary>Turns "no silo answered" into <see cref="ClusterUnreachableException"/>.</summary>
    private static async Task<T> CallAsync<T>(Func<Task<T>> call, CancellationToken ct)
    {
        try
        {
            return await call().WaitAsync(ct);
        }
        catch (Exception ex) when (ex is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException
                                   or Orleans.Runtime.Messaging.ConnectionFailedException)
        {
            string reason = ex.Message.Split('\n', 2)[0].Trim();
            throw new ClusterUnreachableException($"the cluster did not answer ({ex.GetType().Name}: {reason})", ex);
        }
    }

    private static bool SameProgress(BundleJobStatus a, BundleJobStatus b) =>
        a.State == b.State && a.TarBytesSealed == b.TarBytesSealed && a.TarBytesDigested == b.TarBytesDigested && a.PartsWritten == b.PartsWritten;
}
