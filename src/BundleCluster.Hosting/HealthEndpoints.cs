using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace BundleCluster.Hosting;

/// <summary>
/// <c>/health/startup</c>, <c>/health/live</c> and <c>/health/ready</c> for a silo, as Kubernetes probes read them.
/// Startup: the host (and with it the silo) has finished starting. Live: the Orleans runtime's
/// own health participants are fine (restart the process if not). Ready: this silo is Active in the cluster membership
/// and Redis answers (send no work otherwise); it turns unhealthy within seconds when Redis goes and healthy again when
/// it returns, without a restart.
/// </summary>
public static class HealthEndpoints
{
    public const string StartupPath = "/health/startup";
    public const string LivePath = "/health/live";
    public const string ReadyPath = "/health/ready";
    private const string Startup = "startup";
    private const string Live = "live";
    private const string Ready = "ready";

    public static IServiceCollection AddBundleClusterSiloHealthChecks(this IServiceCollection services, string redis)
    {
        services.AddSingleton(new RedisHealthCheck(redis));
        services.AddHealthChecks()
            .AddCheck<HostStartedHealthCheck>("host-started", tags: [Startup])
            .AddCheck<OrleansRuntimeHealthCheck>("orleans-runtime", tags: [Live])
            .AddCheck<SiloActiveHealthCheck>("silo-active", tags: [Ready])
            .AddCheck<RedisHealthCheck>("redis", tags: [Ready]);
        return services;
    }

    public static IEndpointRouteBuilder MapBundleClusterHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks(StartupPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(Startup) });
        endpoints.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(Live) });
        endpoints.MapHealthChecks(ReadyPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(Ready) });
        return endpoints;
    }
}
