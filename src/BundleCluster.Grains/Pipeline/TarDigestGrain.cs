using System.Diagnostics;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Abstractions.Telemetry;
using BundleCluster.Format.Bundling;
using BundleCluster.Grains.Hosting;
using BundleCluster.Grains.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// The job's tar-stream SHA-1: one sequential pass on a dedicated thread (it is the one stage nothing can split),
/// with progress relayed to the job grain from the grain's own scheduler.
/// </summary>
internal sealed class TarDigestGrain(IOptions<BundleClusterOptions> options, PipelineMetrics metrics, ILocalSiloDetails silo, TimeProvider time,
    ILogger<TarDigestGrain> logger)
    : BackgroundStageGrain<ImageSlicePlan>(silo, time, options.Value.SliceRetryWindow, logger), ITarDigestGrain
{
    private static readonly TimeSpan ReportEvery = TimeSpan.FromMilliseconds(500);
    private static readonly KeyValuePair<string, object?> DigestStage = PipelineMetrics.Stage("digest");

    protected override PipelineStage Stage => PipelineStage.Digest;

    protected override string SpanName => TelemetryNames.Spans.Digest;

    protected override ImageSlicePlan PlanOf(ImageSlicePlan request) => request;

    protected override async Task<Func<IBundleJobReports, Task>> RunAsync(ImageSlicePlan plan, IBundleJobReports job, Activity? span, CancellationToken ct)
    {
        long digested = 0, counted = 0;
        Task<TarDigest> digest = Task.Factory.StartNew(async () =>
        {
            await using BundleCluster.Format.IImageReader image = await plan.OpenImageAsync(ct);
            return await TarStreamDigest.ComputeAsync(plan.Layout(), image, n => Volatile.Write(ref digested, n), ct);
        }, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

        while (await Task.WhenAny(digest, Task.Delay(ReportEvery, Time, ct)) != digest)
        {
            ct.ThrowIfCancellationRequested();
            DelayDeactivation(TimeSpan.FromMinutes(10));
            long done = Volatile.Read(ref digested);
            metrics.BytesRead.Add(done - counted, DigestStage);
            counted = done;
            await JobReporting.ProgressAsync(() => job.ReportDigestProgressAsync(done));
        }

        TarDigest result = await digest;
        metrics.BytesRead.Add(plan.TarLength - counted, DigestStage);
        span?.SetTag(TelemetryNames.Attributes.TarBytes, plan.TarLength);
        return reports => reports.ReportDigestAsync(result.Sha1Hex, result.Crc32);
    }
}
