using BundleCluster.Abstractions.Jobs;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BundleCluster.Api;

/// <summary>Ready when the cluster answers a grain call within two seconds (its gateways and Redis are reachable).</summary>
internal sealed class ClusterHealthCheck(IGrainFactory grains) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await grains.GetGrain<IJobRegistryGrain>(0).ListAsync(0).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansException or Orleans.Runtime.Messaging.ConnectionFailedException)
        {
            return HealthCheckResult.Unhealthy($"the cluster does not answer: {ex.GetType().Name}");
        }
    }
}
