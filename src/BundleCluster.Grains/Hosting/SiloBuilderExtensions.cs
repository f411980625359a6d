using BundleCluster.Grains.Pipeline;
using BundleCluster.Grains.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace BundleCluster.Grains.Hosting;

/// <summary>Registers the bundle pipeline's grains and services on a silo.</summary>
public static class SiloBuilderExtensions
{
    /// <summary>
    /// Thread-pool threads a silo keeps ready beyond one per core. Orleans runs every grain turn and message on the
    /// pool, and the pipeline's file I/O blocks a pool thread per call (image reads, part writes and their flush: .NET's
    /// async file API is synchronous underneath on Linux). With the default minimum — one thread per core — a silo
    /// with one or two cores stalled for the first seconds of every job until the pool's hill climbing added threads
    /// (bench/cluster.sh: one silo of two idled a third of the time at the start of a job).
    /// </summary>
    public const int ExtraPoolThreads = 8;

    public static ISiloBuilder AddBundleClusterGrains(this ISiloBuilder silo, Action<BundleClusterOptions>? configure = null)
    {
        ThreadPool.GetMinThreads(out int workers, out int completionPorts);
        ThreadPool.SetMinThreads(Math.Max(workers, Environment.ProcessorCount + ExtraPoolThreads), completionPorts);
        silo.Services.AddOptions<BundleClusterOptions>().Configure(o => configure?.Invoke(o)).ValidateOnStart();
        silo.Services.AddSingleton<IValidateOptions<BundleClusterOptions>, BundleClusterOptionsValidator>();
        silo.Services.AddSingleton(sp => new CpuWorkLimiter(sp.GetRequiredService<IOptions<BundleClusterOptions>>().Value.CompressionSlots));
        silo.Services.AddMetrics();
        silo.Services.TryAddSingleton(TimeProvider.System); // retry windows and cadences; tests substitute a fake clock
        silo.Services.AddSingleton<Telemetry.PipelineMetrics>();
        // Trace context flows with every grain call (a job's spans join its caller's trace); spans for the calls
        // themselves are only recorded where a tracer listens to Orleans' sources.
        silo.AddActivityPropagation();
        silo.AddPlacementDirector<SpreadPlacement, SpreadPlacementDirector>();

        // Sealers on every silo hand out slices by this silo's compression slots, published as silo metadata.
        var options = new BundleClusterOptions();
        configure?.Invoke(options);
        silo.UseSiloMetadata(SiloCapacity.Metadata(options.CompressionSlots));
        return silo;
    }

    /// <summary>
    /// The embedded default: job state in memory and no reminder service (a single process has nothing to survive,
    /// so its jobs register no reminders, and the silo starts one grain service fewer).
    /// </summary>
    public static ISiloBuilder AddBundleClusterInMemoryStorage(this ISiloBuilder silo)
    {
        silo.Services.Configure<BundleClusterOptions>(o => o.JobsOutliveProcess = false);
        return silo.AddMemoryGrainStorage(BundleClusterOptions.JobStorage);
    }

    /// <summary>
    /// A cluster: membership, job state and reminders in Redis, so silos find each other, jobs outlive the silo that
    /// ran them, and a whole-cluster restart resumes unfinished jobs.
    /// </summary>
    public static ISiloBuilder AddBundleClusterRedis(this ISiloBuilder silo, string redis)
    {
        silo.UseRedisClustering(o => o.ConfigurationOptions = RedisConfiguration(redis));
        return silo.AddBundleClusterRedisStorage(redis);
    }

    /// <summary>Job state and reminders in Redis (membership configured elsewhere, e.g. a test cluster's).</summary>
    public static ISiloBuilder AddBundleClusterRedisStorage(this ISiloBuilder silo, string redis)
    {
        silo.AddRedisGrainStorage(BundleClusterOptions.JobStorage, o => o.ConfigurationOptions = RedisConfiguration(redis));
        silo.UseRedisReminderService(o => o.ConfigurationOptions = RedisConfiguration(redis));
        return silo;
    }

    /// <summary>Parses HOST:PORT (or a StackExchange.Redis configuration string) and fails fast when Redis is away.</summary>
    public static StackExchange.Redis.ConfigurationOptions RedisConfiguration(string redis)
    {
        var options = StackExchange.Redis.ConfigurationOptions.Parse(redis);
        options.ConnectTimeout = 5000;
        options.AbortOnConnectFail = true;
        return options;
    }

    /// <summary>Why <see cref="RedisConfiguration"/> cannot use this address, or null when it can (checked at start-up).</summary>
    public static string? RedisAddressProblem(string redis)
    {
        try
        {
            return RedisConfiguration(redis).EndPoints.Count == 0 ? "names no HOST:PORT" : null;
        }
        catch (ArgumentException ex)
        {
            return $"is not a Redis address ({ex.Message})";
        }
    }
}
