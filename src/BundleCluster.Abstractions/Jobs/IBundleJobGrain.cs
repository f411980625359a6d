namespace BundleCluster.Abstractions.Jobs;

/// <summary>
/// One bundle job, keyed by job id (the idempotency key when the client gave one). It validates and plans the job,
/// starts the digest and the sealer, and commits the manifest when both are done.
/// </summary>
[Alias("bc.IBundleJobGrain")]
public interface IBundleJobGrain : IGrainWithStringKey
{
    /// <summary>Starts the job (or returns the status of the one already started under this id).</summary>
    [Alias("Start")]
    Task<BundleJobStatus> StartAsync(BundleJobSpec spec);

    [Alias("GetStatus")]
    Task<BundleJobStatus> GetStatusAsync();

    /// <summary>Stops the job; it ends Cancelled with no manifest and no parts left at the destination.</summary>
    [Alias("Cancel")]
    Task<BundleJobStatus> CancelAsync(string reason);
}
