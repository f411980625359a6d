using BundleCluster.Abstractions.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace BundleCluster.Hosting;

/// <summary>
/// OpenTelemetry for every BundleCluster program, configured the standard way: <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>
/// (or the per-signal <c>…_TRACES_/METRICS_/LOGS_ENDPOINT</c>), <c>OTEL_EXPORTER_OTLP_PROTOCOL</c> (grpc or
/// http/protobuf), <c>OTEL_SERVICE_NAME</c>, <c>OTEL_RESOURCE_ATTRIBUTES</c>, <c>OTEL_EXPORTER_OTLP_HEADERS</c>.
/// With no endpoint set nothing is registered, so nothing is recorded or exported and jobs pay nothing for it.
/// Exported: our source and meter ("BundleCluster"), Orleans' sources and its "Microsoft.Orleans" meter, and logs
/// (with their scopes, which carry the job id, and the trace context of the span they were written in).
/// </summary>
public static class TelemetryExtensions
{
    private const string OtelPrefix = "OTEL_";
    private const string SettingsPrefix = "BundleCluster__Telemetry__";
    private static readonly string[] EndpointKeys =
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    ];

    /// <param name="serviceName">The service name unless <c>OTEL_SERVICE_NAME</c> (or service.name in <c>OTEL_RESOURCE_ATTRIBUTES</c>) sets one.</param>
    /// <param name="resource">Attributes of this process to add (a silo's address).</param>
    public static TBuilder AddBundleClusterTelemetry<TBuilder>(this TBuilder builder, string serviceName, IReadOnlyDictionary<string, object>? resource = null)
        where TBuilder : IHostApplicationBuilder
    {
        // Hosts built without the default sources (bundlectl's embedded silo) still see the OTEL_* environment and
        // our own telemetry settings (BundleCluster__Telemetry__…).
        builder.Configuration.AddInMemoryCollection(Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k.StartsWith(OtelPrefix, StringComparison.Ordinal) || k.StartsWith(SettingsPrefix, StringComparison.OrdinalIgnoreCase))
            .Select(k => KeyValuePair.Create(k.StartsWith(OtelPrefix, StringComparison.Ordinal) ? k : k.Replace("__", ":", StringComparison.Ordinal),
                Environment.GetEnvironmentVariable(k))));
        if (!IsExportConfigured(builder.Configuration))
        {
            return builder;
        }

        bool nameConfigured = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_SERVICE_NAME"])
            || (builder.Configuration["OTEL_RESOURCE_ATTRIBUTES"] ?? "").Contains("service.name=", StringComparison.Ordinal);
        // A deployment may name each instance (a pod's name, a compose service); otherwise each process gets a fresh id.
        bool instanceConfigured = (builder.Configuration["OTEL_RESOURCE_ATTRIBUTES"] ?? "").Contains("service.instance.id=", StringComparison.Ordinal);
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeScopes = true;
            logging.IncludeFormattedMessage = true;
        });
        // Orleans and the framework log hundreds of Information lines per silo start and shutdown; they reach the
        // collector from Warning up.
        builder.Logging.AddFilter<OpenTelemetryLoggerProvider>("Orleans", LogLevel.Warning);
        builder.Logging.AddFilter<OpenTelemetryLoggerProvider>("Microsoft", LogLevel.Warning);
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r =>
            {
                if (!nameConfigured)
                {
                    r.AddService(serviceName, autoGenerateServiceInstanceId: !instanceConfigured);
                }

                if (resource is not null)
                {
                    r.AddAttributes(resource);
                }
            })
            .WithTracing(tracing => tracing.AddBundleClusterTracing(builder.Configuration.GetValue("BundleCluster:Telemetry:ActivationSpans", false)))
            .WithMetrics(metrics => metrics.AddBundleClusterMeters())
            .UseOtlpExporter();
        return builder;
    }

    /// <summary>True when an OTLP endpoint is configured for any signal.</summary>
    public static bool IsExportConfigured(IConfiguration configuration) =>
        EndpointKeys.Any(key => !string.IsNullOrWhiteSpace(configuration[key]));

    /// <summary>
    /// Our activity source and Orleans', with the sampling policy of <see cref="BundleClusterSampler"/> — what every
    /// program exports, and what the tests subscribe an in-memory exporter to.
    /// </summary>
    /// <param name="activationSpans">Also record Orleans' per-activation spans (placement, activation, directory).</param>
    public static TracerProviderBuilder AddBundleClusterTracing(this TracerProviderBuilder tracing, bool activationSpans = false) =>
        tracing.AddSource(TelemetryNames.ActivitySource).AddSource([.. TelemetryNames.OrleansActivitySources])
            .SetSampler(new BundleClusterSampler(activationSpans));

    /// <summary>Our meter and Orleans'.</summary>
    public static MeterProviderBuilder AddBundleClusterMeters(this MeterProviderBuilder metrics) =>
        metrics.AddMeter(TelemetryNames.Meter, TelemetryNames.OrleansMeter);
}
