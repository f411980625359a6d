using System.Net;
using BundleCluster.Grains.Hosting;
using BundleCluster.Hosting;
using BundleCluster.Silo;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

// bundle-silo: one silo of a BundleCluster cluster. Silos find each other, keep job state and reminders in Redis;
// SIGTERM shuts down gracefully (Orleans hands activations over; running jobs resume on the other silos).
StartupJitProfile.Start("bundle-silo");
WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
builder.Configuration
    .AddJsonFile("appsettings.json", optional: true)
    .AddEnvironmentVariables("BUNDLESILO_")
    .AddCommandLine(SiloArguments.Normalize(CommandLineFlags.WithSwitches(args, "--dashboard", "--s3-compat")), SiloArguments.SwitchMappings);
var options = builder.Configuration.GetSection(SiloHostOptions.Section).Get<SiloHostOptions>() ?? new SiloHostOptions();
options.AllowedRoots.AddRange(builder.Configuration.GetSection("BundleSilo:AllowedRoot").Get<string[]>() ?? []);
options.KeyRoots.AddRange(builder.Configuration.GetSection("BundleSilo:KeyRoot").Get<string[]>() ?? []);
options.AllowedS3.AddRange(builder.Configuration.GetSection("BundleSilo:AllowedS3").Get<string[]>() ?? []);

// Settings that could only fail later are refused now, one line each: the host's own here, the pipeline's
// (BundleClusterOptionsValidator) when the host starts.
ValidateOptionsResult invalid = new SiloHostOptionsValidator().Validate(null, options);
if (invalid.Failed)
{
    return Refuse(invalid.Failures!);
}

IPAddress advertise = IPAddress.Parse(options.Advertise);

// Health endpoints for probes, on the advertised address only (like the silo and gateway ports).
builder.WebHost.UseUrls($"http://{new IPEndPoint(advertise, options.HttpPort)}");
builder.Services.AddBundleClusterSiloHealthChecks(options.Redis!);
// The budget of a graceful stop (SIGTERM): sealers drain their part writes and checkpoint within it.
builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(options.ShutdownTimeoutSeconds));
builder.AddBundleClusterTelemetry("bundle-silo", new Dictionary<string, object>
{
    [BundleCluster.Abstractions.Telemetry.TelemetryNames.Attributes.Silo] = new IPEndPoint(advertise, options.SiloPort).ToString(),
});

builder.UseOrleans(silo =>
{
    silo.Configure<ClusterOptions>(o =>
    {
        o.ClusterId = options.ClusterId;
        o.ServiceId = options.ServiceId;
    });
    silo.ConfigureEndpoints(advertise, options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: false);
    // After a whole-cluster crash the membership table still lists the old silos as active, and nobody is left to
    // vote them dead. Heartbeats every 5 s, stale after 3 missed, let new silos treat them as gone within ~15-40 s
    // (Orleans' default is 10 minutes).
    silo.Configure<ClusterMembershipOptions>(o =>
    {
        o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
        o.NumMissedTableIAmAliveLimit = 3;
    });
    silo.AddBundleClusterRedis(options.Redis!); // validated above
    if (options.Dashboard)
    {
        // The dashboard's silo side (its grains and call profiling), for bundle-api --dashboard to show. Off by default:
        // profiling every grain call costs CPU.
        Orleans.Dashboard.ServiceCollectionExtensions.AddDashboard(silo);
    }

    silo.AddBundleClusterGrains(o =>
    {
        o.AllowedRoots = options.AllowedRoots.Select(Path.GetFullPath).ToList();
        o.KeyRoots = options.KeyRoots.Select(Path.GetFullPath).ToList();
        o.CompressionSlots = options.CompressionSlots ?? o.CompressionSlots;
        o.SlicesInFlight = options.SlicesInFlight ?? o.SlicesInFlight;
        o.MaxRunningJobs = options.MaxRunningJobs ?? o.MaxRunningJobs;
        o.AllowedS3Prefixes = options.AllowedS3;
        o.IdentityRoot = options.IdentityRoot is null ? null : Path.GetFullPath(options.IdentityRoot);
        o.DefaultS3 = options.DefaultS3();
    });
});

try
{
    WebApplication app = builder.Build();
    app.MapBundleClusterHealth();
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException ex)
{
    return Refuse(ex.Failures);
}
catch (Exception ex) when (ex is StackExchange.Redis.RedisConnectionException or Orleans.Clustering.Redis.RedisClusteringException)
{
    Console.Error.WriteLine($"bundle-silo: error: cannot reach Redis at {options.Redis}: {ex.Message}");
    return 254;
}

static int Refuse(IEnumerable<string> failures)
{
    foreach (string failure in failures)
    {
        Console.Error.WriteLine($"bundle-silo: error: {failure}");
    }

    return 1;
}
