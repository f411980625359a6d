using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace BundleCluster.Client;

/// <summary>Where a clustered deployment is: its Redis and its cluster/service ids (as the silos were started).</summary>
public sealed class BundleClusterConnectionOptions
{
    /// <summary>The configuration section <c>AddBundleClusterClient()</c> binds by default (keys Redis, ClusterId, ServiceId).</summary>
    public const string Section = "BundleCluster";

    /// <summary>Redis HOST:PORT, or a StackExchange.Redis configuration string.</summary>
    public string Redis { get; set; } = "127.0.0.1:6379";

    public string ClusterId { get; set; } = "bundlecluster";

    public string ServiceId { get; set; } = "bundlecluster";

    /// <summary>
    /// False (the default): starting fails at once when no silo answers — a clear error beats a hang for tools. True,
    /// for a service that starts beside the cluster (bundle-api): keep trying every 2 seconds until a silo answers.
    /// </summary>
    public bool WaitForCluster { get; set; }
}

/// <summary>Fails the client's start at once, or retries it while the cluster is not up yet (<see cref="BundleClusterConnectionOptions.WaitForCluster"/>).</summary>
internal sealed partial class ClusterConnectionRetry(IOptions<BundleClusterConnectionOptions> options, ILogger<ClusterConnectionRetry> logger)
    : IClientConnectionRetryFilter
{
    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        if (!options.Value.WaitForCluster)
        {
            return false;
        }

        LogWaiting(logger, options.Value.Redis, exception.Message.Split('\n', 2)[0]);
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No silo of the cluster at {Redis} answers yet ({Reason}); trying again in 2 s")]
    private static partial void LogWaiting(ILogger logger, string redis, string reason);
}

/// <summary>Refuses connection settings that could never connect, naming the setting.</summary>
public sealed class BundleClusterConnectionOptionsValidator : IValidateOptions<BundleClusterConnectionOptions>
{
    public ValidateOptionsResult Validate(string? name, BundleClusterConnectionOptions options)
    {
        var failures = new List<string>();
        if (RedisAddressProblem(options.Redis ?? "") is { } problem)
        {
            failures.Add($"Redis '{options.Redis}' {problem}");
        }

        if (string.IsNullOrWhiteSpace(options.ClusterId))
        {
            failures.Add("ClusterId must not be empty");
        }

        if (string.IsNullOrWhiteSpace(options.ServiceId))
        {
            failures.Add("ServiceId must not be empty");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Parses HOST:PORT (or a StackExchange.Redis configuration string) and fails fast when Redis is away.</summary>
    internal static StackExchange.Redis.ConfigurationOptions RedisConfiguration(string redis)
    {
        var configuration = StackExchange.Redis.ConfigurationOptions.Parse(redis);
        configuration.ConnectTimeout = 5000;
        configuration.AbortOnConnectFail = true;
        return configuration;
    }

    private static string? RedisAddressProblem(string redis)
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

/// <summary>Ways to reach a cluster: a static connect for tools and scripts, and DI registration for services.</summary>
public static class BundleClusterConnection
{
    /// <summary>Connects to the cluster whose silos cluster through <paramref name="options"/>' Redis.</summary>
    /// <exception cref="ClusterUnreachableException">Redis or every silo is unreachable.</exception>
    public static async Task<ConnectedBundleCluster> ConnectAsync(BundleClusterConnectionOptions options, CancellationToken ct = default)
    {
        if (new BundleClusterConnectionOptionsValidator().Validate(null, options) is { Failed: true } invalid)
        {
            throw new BundleClusterException(string.Join("; ", invalid.Failures!), Abstractions.Jobs.JobErrorKind.InvalidParameter);
        }

        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory, // not the current directory, which need not exist
        });
        builder.Logging.ClearProviders();
        builder.AddBundleClusterClient(o =>
        {
            o.Redis = options.Redis;
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
        IHost host = builder.Build();
        try
        {
            await host.StartAsync(ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            host.Dispose();
            throw new ClusterUnreachableException($"cannot reach the cluster through Redis at {options.Redis}: {ex.Message}", ex);
        }

        return new ConnectedBundleCluster(host);
    }

    /// <summary>
    /// Registers an Orleans client for the cluster and <see cref="BundleClusterClient"/> in DI
    /// (<c>builder.AddBundleClusterClient(o => o.Redis = "redis:6379")</c>), the settings validated on start.
    /// </summary>
    /// <param name="client">More of Orleans' client configuration (bundle-api adds the dashboard's client side).</param>
    public static IHostApplicationBuilder AddBundleClusterClient(this IHostApplicationBuilder builder, Action<BundleClusterConnectionOptions> configure,
        Action<IClientBuilder>? client = null)
    {
        builder.Services.AddOptions<BundleClusterConnectionOptions>().Configure(configure);
        return builder.AddBundleClusterClientCore(client);
    }

    /// <summary>
    /// Registers the client with its settings bound from configuration (section <see cref="BundleClusterConnectionOptions.Section"/>
    /// by default: <c>BundleCluster:Redis</c>, <c>BundleCluster:ClusterId</c>, <c>BundleCluster:ServiceId</c>, or the
    /// environment's <c>BundleCluster__Redis</c> …), validated on start.
    /// </summary>
    public static IHostApplicationBuilder AddBundleClusterClient(this IHostApplicationBuilder builder, string section = BundleClusterConnectionOptions.Section)
    {
        builder.Services.AddOptions<BundleClusterConnectionOptions>().BindConfiguration(section);
        return builder.AddBundleClusterClientCore();
    }

    private static IHostApplicationBuilder AddBundleClusterClientCore(this IHostApplicationBuilder builder, Action<IClientBuilder>? more = null)
    {
        builder.Services.AddOptions<BundleClusterConnectionOptions>().ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<BundleClusterConnectionOptions>, BundleClusterConnectionOptionsValidator>();
        builder.UseOrleansClient(client =>
        {
            client
                .AddActivityPropagation() // the caller's trace context reaches the job: its bundle.job span joins that trace
                .UseRedisClustering(_ => { })
                .UseConnectionRetryFilter<ClusterConnectionRetry>();
            more?.Invoke(client);
        });
        // Orleans' own options follow ours, read when the client is built (so configuration binding applies).
        builder.Services.AddOptions<Orleans.Clustering.Redis.RedisClusteringOptions>().Configure<IOptions<BundleClusterConnectionOptions>>((o, connection) =>
        {
            o.ConfigurationOptions = BundleClusterConnectionOptionsValidator.RedisConfiguration(connection.Value.Redis);
        });
        builder.Services.AddOptions<ClusterOptions>().Configure<IOptions<BundleClusterConnectionOptions>>((o, connection) =>
        {
            o.ClusterId = connection.Value.ClusterId;
            o.ServiceId = connection.Value.ServiceId;
        });
        builder.Services.AddSingleton(sp => new BundleClusterClient(sp.GetRequiredService<IClusterClient>()));
        return builder;
    }
}

/// <summary>A live connection; dispose to disconnect.</summary>
public sealed class ConnectedBundleCluster : IAsyncDisposable
{
    private readonly IHost _host;

    internal ConnectedBundleCluster(IHost host)
    {
        _host = host;
        Client = host.Services.GetRequiredService<BundleClusterClient>();
    }

    public BundleClusterClient Client { get; }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(5));
        }
        finally
        {
            _host.Dispose();
        }
    }
}
