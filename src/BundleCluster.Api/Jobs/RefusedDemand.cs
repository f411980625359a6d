namespace BundleCluster.Api.Jobs;

/// <summary>
/// Submissions this bundle-api had to refuse because no silo answered (503, Retry-After). With the silos scaled to
/// zero that is the only backlog anyone can see, so <c>/v1/scale</c> reports it and the autoscaler starts a silo; the
/// client's retry then lands. Per process: with several bundle-api replicas, a retry that reaches another one counts
/// there too (clients retry every 5 s, KEDA polls every 15 s).
/// </summary>
internal sealed class RefusedDemand(TimeProvider time)
{
    /// <summary>How long one refused submission keeps asking for a silo.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(10);

    private long _lastRefusedTicks; // 0: never (0001-01-01)

    public void Refused() => Interlocked.Exchange(ref _lastRefusedTicks, time.GetUtcNow().UtcTicks);

    public bool IsRecent => time.GetUtcNow().UtcTicks - Interlocked.Read(ref _lastRefusedTicks) < Window.Ticks;
}
