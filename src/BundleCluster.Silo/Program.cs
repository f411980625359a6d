using System.Net;
using BundleCluster.Grains.Hosting;
using BundleCluster.Silo;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

// bundle-silo: one silo of a BundleCluster cluster. Silos find each other, keep job state and reminders in Redis;
// SIGTERM shuts down gracefully (Orleans hands activations over; running jobs resume on the other silos).
HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
builder.Configuration
    .AddJsonFile("appsettings.json", optional: true)
    .AddEnvironmentVariables("BUNDLESILO_")
    .AddCommandLine(SiloArguments.Normalize(args), SiloArguments.SwitchMappings);
var options = builder.Configuration.GetSection(SiloHostOptions.Section).Get<SiloHostOptions>() ?? new SiloHostOptions();
options.AllowedRoots.AddRange(builder.Configuration.GetSection("BundleSilo:AllowedRoot").Get<string[]>() ?? []);
options.KeyRoots.AddRange(builder.Configuration.GetSection("BundleSilo:KeyRoot").Get<string[]>() ?? []);

if (string.IsNullOrWhiteSpace(options.Redis))
{
    Console.Error.WriteLine("bundle-silo: error: --redis HOST:PORT is required; silos cluster through Redis (for one machine, bundlectl runs an embedded silo)");
    return 1;
}

if (options.AllowedRoots.Count == 0)
{
    Console.Error.WriteLine("bundle-silo: error: at least one --allowed-root DIR is required; a silo reads images only under allowed roots");
    return 1;
}

if (!IPAddress.TryParse(options.Advertise, out IPAddress? advertise))
{
    Console.Error.WriteLine($"bundle-silo: error: --advertise '{options.Advertise}' is not an IP address");
    return 1;
}

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
    silo.AddBundleClusterRedis(options.Redis);
    silo.AddBundleClusterGrains(o =>
    {
        o.AllowedRoots = options.AllowedRoots.Select(Path.GetFullPath).ToList();
        o.KeyRoots = options.KeyRoots.Select(Path.GetFullPath).ToList();
        o.CompressionSlots = options.CompressionSlots ?? o.CompressionSlots;
    });
});

try
{
    await builder.Build().RunAsync();
    return 0;
}
catch (Exception ex) when (ex is StackExchange.Redis.RedisConnectionException or Orleans.Clustering.Redis.RedisClusteringException)
{
    Console.Error.WriteLine($"bundle-silo: error: cannot reach Redis at {options.Redis}: {ex.Message}");
    return 254;
}
