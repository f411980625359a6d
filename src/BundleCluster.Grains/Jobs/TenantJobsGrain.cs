using BundleCluster.Abstractions.Jobs;
using BundleCluster.Grains.Hosting;

namespace BundleCluster.Grains.Jobs;

/// <summary>A tenant's job list as persisted: newest last, each with its sequence number.</summary>
[GenerateSerializer, Alias("bc.TenantJobsRecord")]
public sealed class TenantJobsRecord
{
    [Id(0)] public List<TenantJob> Jobs { get; set; } = [];

    [Id(1)] public long NextSequence { get; set; } = 1;
}

/// <inheritdoc cref="ITenantJobsGrain"/>
internal sealed class TenantJobsGrain(
    [PersistentState("tenant-jobs", BundleClusterOptions.JobStorage)] IPersistentState<TenantJobsRecord> record)
    : Grain, ITenantJobsGrain
{
    private const int Keep = 100_000;

    public async Task AddAsync(string jobId)
    {
        List<TenantJob> jobs = record.State.Jobs;
        if (jobs.Count > 0 && jobs.Skip(Math.Max(0, jobs.Count - 64)).Any(j => j.JobId == jobId))
        {
            return; // a repeated submit (idempotency key) lands here right after the first
        }

        jobs.Add(new TenantJob(record.State.NextSequence++, jobId));
        if (jobs.Count > Keep)
        {
            jobs.RemoveRange(0, jobs.Count - Keep);
        }

        await record.WriteStateAsync();
    }

    public Task<IReadOnlyList<TenantJob>> PageAsync(long? before, int max)
    {
        List<TenantJob> jobs = record.State.Jobs;
        // Sequence numbers ascend with the index: find the first entry not before the token, then walk back.
        int end = before is { } limit ? jobs.FindIndex(j => j.Sequence >= limit) : jobs.Count;
        if (end < 0)
        {
            end = jobs.Count;
        }

        int start = Math.Max(0, end - Math.Clamp(max, 1, 1000));
        return Task.FromResult<IReadOnlyList<TenantJob>>(jobs.GetRange(start, end - start).AsEnumerable().Reverse().ToList());
    }
}
