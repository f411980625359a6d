using BundleCluster.Abstractions.Series;
using BundleCluster.Grains.Hosting;

namespace BundleCluster.Grains.Series;

/// <summary>A tenant's series names as persisted, in creation order.</summary>
[GenerateSerializer, Alias("bc.TenantSeriesRecord")]
public sealed class TenantSeriesRecord
{
    [Id(0)] public List<string> Names { get; set; } = [];
}

/// <inheritdoc cref="ITenantSeriesGrain"/>
internal sealed class TenantSeriesGrain(
    [PersistentState("tenant-series", BundleClusterOptions.JobStorage)] IPersistentState<TenantSeriesRecord> record)
    : Grain, ITenantSeriesGrain
{
    public async Task AddAsync(string name)
    {
        if (!record.State.Names.Contains(name, StringComparer.Ordinal))
        {
            record.State.Names.Add(name);
            await record.WriteStateAsync();
        }
    }

    public Task<IReadOnlyList<string>> ListAsync() => Task.FromResult<IReadOnlyList<string>>([.. record.State.Names]);
}
