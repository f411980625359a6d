namespace BundleCluster.Abstractions.Jobs;

/// <summary>
/// What a job asks of the queue: whose it is, how urgent, its tenant's limits at submit time, and its size in slices
/// (the backlog an autoscaler sees while it waits).
/// </summary>
[GenerateSerializer, Immutable, Alias("bc.QueueTicket")]
public sealed record QueueTicket(
    [property: Id(0)] string JobId,
    [property: Id(1)] string? Tenant,
    [property: Id(2)] int Priority,
    [property: Id(3)] DateTimeOffset SubmittedAt,
    [property: Id(4)] TenantQuota? Quota,
    [property: Id(5)] int Slices);

/// <summary>The queue's answer to a job: run now, or wait at this position (1 = next), or refused (quota).</summary>
[GenerateSerializer, Immutable, Alias("bc.QueueAnswer")]
public sealed record QueueAnswer([property: Id(0)] bool Admitted, [property: Id(1)] int Position, [property: Id(2)] string? Refusal = null)
{
    public static QueueAnswer Run { get; } = new(true, 0);
}

/// <summary>
/// The numbers an autoscaler needs, and nothing about any tenant: jobs waiting and running, slices of running jobs
/// not sealed yet, and the cluster's active silos and compression slots.
/// </summary>
[GenerateSerializer, Immutable, Alias("bc.ScaleSignal")]
public sealed record ScaleSignal(
    [property: Id(0)] int QueuedJobs,
    [property: Id(1)] int RunningJobs,
    [property: Id(2)] long SlicesPending,
    [property: Id(3)] int ActiveSilos,
    [property: Id(4)] int CompressionSlots,
    [property: Id(5)] int MaxRunningJobs);

/// <summary>
/// Admission control for every job, however it was submitted (SDK, bundlectl, bundle-api): one grain (key 0), state
/// in the job storage (Redis in a cluster), so the queue survives any silo and a whole-cluster restart. A job waits
/// (Queued) until the cluster runs fewer than its limit of jobs and its tenant fewer than the tenant's; waiting jobs
/// go by priority (higher first), then submission order; a tenant at its limit does not hold up the others.
/// </summary>
[Alias("bc.IJobQueueGrain")]
public interface IJobQueueGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Enters a prepared job. Idempotent: a job already admitted is told to run, a waiting one gets its position.
    /// </summary>
    [Alias("Enter")]
    Task<QueueAnswer> EnterAsync(QueueTicket ticket);

    /// <summary>The job ended (or was cancelled while waiting): its place goes to the next waiting job.</summary>
    [Alias("Leave")]
    Task LeaveAsync(string jobId);

    /// <summary>1-based position of a waiting job; null when it is not waiting.</summary>
    /// <remarks>Interleaves: a job asks this while answering the queue's own question about it.</remarks>
    [Alias("Position"), Orleans.Concurrency.AlwaysInterleave]
    Task<int?> GetPositionAsync(string jobId);

    /// <remarks>Interleaves (a read that waits on the running jobs' states), so it never holds up admission.</remarks>
    [Alias("Scale"), Orleans.Concurrency.AlwaysInterleave]
    Task<ScaleSignal> GetScaleSignalAsync();
}

/// <summary>How the queue tells a waiting job that it may run now (the job grain implements it).</summary>
[Alias("bc.IAdmittedJob")]
public interface IAdmittedJob : IGrainWithStringKey
{
    /// <summary>
    /// One-way: the queue never waits on a job. A lost message is repaired by the job itself, which re-enters the
    /// queue on its watchdog tick while it waits and then hears that it was admitted.
    /// </summary>
    [Alias("Admit"), Orleans.Concurrency.OneWay]
    Task AdmitAsync();
}
