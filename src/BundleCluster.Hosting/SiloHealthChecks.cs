using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Runtime;
using StackExchange.Redis;

namespace BundleCluster.Hosting;

/// <summary>Startup: the host has started, so the silo has joined its cluster (the silo starts with the host).</summary>
internal sealed class HostStartedHealthCheck(Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStarted.IsCancellationRequested
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("the silo is still starting"));
}

/// <summary>Live: every Orleans health participant (the scheduler, membership, messaging) reports healthy.</summary>
internal sealed class OrleansRuntimeHealthCheck(IEnumerable<IHealthCheckParticipant> participants) : IHealthCheck
{
    private long _lastCheckTicks = DateTime.UtcNow.Ticks;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var lastCheck = new DateTime(Interlocked.Exchange(ref _lastCheckTicks, DateTime.UtcNow.Ticks), DateTimeKind.Utc);
        foreach (IHealthCheckParticipant participant in participants)
        {
            if (!participant.CheckHealth(lastCheck, out string? reason))
            {
                return Task.FromResult(HealthCheckResult.Unhealthy($"{participant.GetType().Name}: {reason}"));
            }
        }

        return Task.FromResult(HealthCheckResult.Healthy());
    }
}

/// <summary>Ready (1 of 2): this silo is Active in the cluster membership, so the cluster sends it work.</summary>
internal sealed class SiloActiveHealthCheck(IClusterMembershipService membership, ILocalSiloDetails silo) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        SiloStatus status = membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress);
        return Task.FromResult(status == SiloStatus.Active
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy($"silo {silo.SiloAddress} is {status} in the cluster membership"));
    }
}

/// <summary>
/// Ready (2 of 2): Redis answers a PING within two seconds. Its own connection, which StackExchange.Redis re-establishes
/// by itself when Redis returns, so readiness comes back without a restart.
/// </summary>
internal sealed class RedisHealthCheck(string redis) : IHealthCheck, IDisposable
{
    private readonly Lazy<ConnectionMultiplexer> _connection = new(() =>
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(redis);
        options.AbortOnConnectFail = false; // connect in the background and keep retrying
        options.ConnectTimeout = 2000;
        options.SyncTimeout = 2000;
        options.AsyncTimeout = 2000;
        return ConnectionMultiplexer.Connect(options);
    });

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            TimeSpan latency = await _connection.Value.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            return HealthCheckResult.Healthy($"Redis answered in {latency.TotalMilliseconds:0} ms");
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"Redis at {redis} does not answer: {ex.Message}");
        }
    }

    public void Dispose()
    {
        if (_connection.IsValueCreated)
        {
            _connection.Value.Dispose();
        }
    }
}
