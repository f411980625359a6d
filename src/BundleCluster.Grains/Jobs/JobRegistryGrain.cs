using BundleCluster.Abstractions.Jobs;
using BundleCluster.Grains.Hosting;

namespace BundleCluster.Grains.Jobs;

/// <summary>The registry's persisted state: job ids, newest last.</summary>
[GenerateSerializer, Alias("bc.JobRegistryRecord")]
public sealed class JobRegistryRecord
{
    [Id(0)] public List<string> JobIds { get; set; } = [];
}

/// <summary>Remembers the most recent jobs (bounded, so it never grows without limit).</summary>
internal sealed class JobRegistryGrain(
    [PersistentState("registry", BundleClusterOptions.JobStorage)] IPersistentState<JobRegistryRecord> record)
    : Grain, IJobRegistryGrain
{
    private const int Keep = 10_000;

    public async Task RegisterAsync(string jobId)
    {
        List<string> ids = record.State.JobIds;
        if (ids.Contains(jobId))
        {
            return;
        }

        ids.Add(jobId);
        if (ids.Count > Keep)
        {
            ids.RemoveRange(0, ids.Count - Keep);
        }

        await record.WriteStateAsync();
    }

    public Task<IReadOnlyList<string>> ListAsync(int max) =>
        Task.FromResult<IReadOnlyList<string>>(record.State.JobIds.AsEnumerable().Reverse().Take(max).ToList());
}
