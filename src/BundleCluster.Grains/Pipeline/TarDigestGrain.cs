using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Format.Bundling;
using BundleCluster.Storage.Sources;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// The job's tar-stream SHA-1: one sequential pass on a dedicated thread (it is the one stage nothing can split),
/// with progress relayed to the job grain from the grain's own scheduler.
/// </summary>
internal sealed class TarDigestGrain : Grain, ITarDigestGrain
{
    private static readonly TimeSpan ReportEvery = TimeSpan.FromMilliseconds(500);
    private CancellationTokenSource? _stop;
    private Task? _run;

    public Task StartAsync(ImageSlicePlan plan)
    {
        if (_run is null)
        {
            _stop = new CancellationTokenSource();
            _run = RunAsync(plan, _stop.Token);
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync()
    {
        if (_stop is not null)
        {
            await _stop.CancelAsync();
        }

        if (_run is not null)
        {
            await _run;
        }
    }

    private async Task RunAsync(ImageSlicePlan plan, CancellationToken ct)
    {
        var job = GrainFactory.GetGrain<IBundleJobReports>(plan.JobId);
        long digested = 0;
        try
        {
            Task<string> digest = Task.Factory.StartNew(async () =>
            {
                await using FileImageReader image = plan.OpenImage();
                return await TarStreamDigest.ComputeAsync(plan.Layout(), image, n => Volatile.Write(ref digested, n), ct);
            }, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

            while (await Task.WhenAny(digest, Task.Delay(ReportEvery, ct)) != digest)
            {
                ct.ThrowIfCancellationRequested();
                DelayDeactivation(TimeSpan.FromMinutes(10));
                await job.ReportDigestProgressAsync(Volatile.Read(ref digested));
            }

            await job.ReportDigestAsync(await digest);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopped by the job; it already knows why.
        }
        catch (Exception ex)
        {
            await job.ReportFailureAsync("digest", ex.ErrorKind(), ex.UserMessage());
        }
        finally
        {
            DeactivateOnIdle();
        }
    }
}
