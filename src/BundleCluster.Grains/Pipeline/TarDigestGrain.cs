using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Format.Bundling;
using BundleCluster.Grains.Hosting;
using BundleCluster.Storage.Sources;
using Microsoft.Extensions.Options;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// The job's tar-stream SHA-1: one sequential pass on a dedicated thread (it is the one stage nothing can split),
/// with progress relayed to the job grain from the grain's own scheduler.
/// </summary>
internal sealed class TarDigestGrain(IOptions<BundleClusterOptions> options) : BackgroundStageGrain<ImageSlicePlan>, ITarDigestGrain
{
    private static readonly TimeSpan ReportEvery = TimeSpan.FromMilliseconds(500);

    protected override async Task RunAsync(ImageSlicePlan plan, CancellationToken ct)
    {
        var job = GrainFactory.GetGrain<IBundleJobReports>(plan.JobId);
        long digested = 0;
        try
        {
            Task<BundleCluster.Format.Bundling.TarDigest> digest = Task.Factory.StartNew(async () =>
            {
                await using BundleCluster.Format.IImageReader image = await plan.OpenImageAsync(ct);
                return await TarStreamDigest.ComputeAsync(plan.Layout(), image, n => Volatile.Write(ref digested, n), ct);
            }, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

            while (await Task.WhenAny(digest, Task.Delay(ReportEvery, ct)) != digest)
            {
                ct.ThrowIfCancellationRequested();
                DelayDeactivation(TimeSpan.FromMinutes(10));
                long done = Volatile.Read(ref digested);
                await JobReporting.ProgressAsync(() => job.ReportDigestProgressAsync(done));
            }

            BundleCluster.Format.Bundling.TarDigest result = await digest;
            await JobReporting.ResultAsync(() => job.ReportDigestAsync(result.Sha1Hex, result.Crc32), options.Value.SliceRetryWindow, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopped by the job; it already knows why.
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
            // This activation was told to stop; whatever failed on the way out is not the job's failure.
        }
        catch (Exception ex)
        {
            await JobReporting.ResultAsync(() => job.ReportFailureAsync("digest", ex.ErrorKind(), ex.UserMessage()), options.Value.SliceRetryWindow, ct);
        }
        finally
        {
            DeactivateOnIdle();
        }
    }
}
