using System.Diagnostics;
using System.Text.Json.Nodes;
using BundleCluster.TestSupport;
using Xunit.Abstractions;

namespace BundleCluster.Cluster.Tests;

/// <summary>
/// Resizes a <see cref="Pool"/> the way KEDA's HPA does with k8s/base/autoscaling.yaml, at test speed: every second it
/// reads /v1/scale with the autoscaler's token and computes replicas = clamp(ceil(slicesPending / 256), 1, 4)
/// (docs/operations.md); it scales out at once and in one silo at a time (the newest, SIGTERM, as the kubelet does),
/// once the proposal has stayed lower for a stabilization window (5 s here, 10 minutes in the manifests).
/// </summary>
internal sealed class TestAutoscaler(Pool pool, ITestOutputHelper output)
{
    public const int SlicesPerSilo = 256;
    public const int MinSilos = 1;
    public const int MaxSilos = 4;
    private static readonly TimeSpan Stabilization = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ScaleInPeriod = TimeSpan.FromSeconds(5);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private DateTime? _lowSince;
    private DateTime _lastScaleIn = DateTime.MinValue;

    /// <summary>The largest number of silos the pool had.</summary>
    public int Peak { get; private set; } = 1;

    /// <summary>How many silos it removed.</summary>
    public int ScaledIn { get; private set; }

    /// <summary>"t+SECONDS:SILOS" at every change.</summary>
    public List<string> Timeline { get; } = [];

    /// <summary>The documented formula (HPA, AverageValue target): ceil(backlog / target), clamped.</summary>
    public static int Replicas(long slicesPending, int min = MinSilos, int max = MaxSilos) =>
        Math.Clamp((int)Math.Ceiling(slicesPending / (double)SlicesPerSilo), min, max);

    public async Task RunAsync(CancellationToken ct)
    {
        using HttpClient http = pool.Http("autoscaler");
        while (!ct.IsCancellationRequested)
        {
            await StepAsync(http);
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>After the burst: goes on until the pool is back at its minimum.</summary>
    public async Task ScaleInToMinimumAsync(TimeSpan within)
    {
        using HttpClient http = pool.Http("autoscaler");
        for (var clock = Stopwatch.StartNew(); pool.RunningSilos > MinSilos && clock.Elapsed < within; await Task.Delay(1000))
        {
            await StepAsync(http);
        }
    }

    private async Task StepAsync(HttpClient http)
    {
        long pending;
        try
        {
            pending = (long)JsonNode.Parse(await http.GetStringAsync("/v1/scale"))!["slicesPending"]!;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return; // no numbers this time: keep what there is, as the HPA does
        }

        int running = pool.RunningSilos;
        int desired = Replicas(pending);
        if (desired > running)
        {
            _lowSince = null;
            await Task.WhenAll(Enumerable.Range(0, desired - running).Select(_ => pool.StartSiloAsync(quota: 0.5)));
            Record();
        }
        else if (desired < running)
        {
            _lowSince ??= DateTime.UtcNow;
            if (DateTime.UtcNow - _lowSince >= Stabilization && DateTime.UtcNow - _lastScaleIn >= ScaleInPeriod)
            {
                SiloProcess newest = pool.Silos[^1];
                newest.Terminate();
                int exit = await newest.WaitForExitAsync(TimeSpan.FromSeconds(60));
                output.WriteLine($"t+{_clock.Elapsed.TotalSeconds:0}s scale-in: a silo drained and exited ({exit}); {pending} slices pending");
                ScaledIn++;
                _lastScaleIn = DateTime.UtcNow;
                Record();
            }
        }
        else
        {
            _lowSince = null;
        }
    }

    private void Record()
    {
        Peak = Math.Max(Peak, pool.RunningSilos);
        Timeline.Add($"t+{_clock.Elapsed.TotalSeconds:0}s:{pool.RunningSilos}");
    }
}
