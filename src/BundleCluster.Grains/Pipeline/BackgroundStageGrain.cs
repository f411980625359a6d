using System.Diagnostics;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Abstractions.Telemetry;
using BundleCluster.Grains.Telemetry;
using Microsoft.Extensions.Logging;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// A pipeline stage whose work runs in the background of its activation (the digest, the sealer): started once per
/// activation, stopped on request, and cancelled when the activation goes away — the job's watchdog then starts it
/// again on a live silo. The one place that gives a stage its span and log scope and turns a stage's failure into
/// the job's: a stop is not a failure; anything else is reported to the job grain (retried until it answers).
/// </summary>
internal abstract partial class BackgroundStageGrain<TRequest>(ILocalSiloDetails silo, TimeProvider time, TimeSpan reportWindow, ILogger logger) : Grain
{
    private readonly BackgroundRun _run = new();

    /// <summary>Which stage this is, as the job's failure and the span name it.</summary>
    protected abstract PipelineStage Stage { get; }

    protected abstract string SpanName { get; }

    protected abstract ImageSlicePlan PlanOf(TRequest request);

    /// <summary>
    /// The stage's work (reporting progress to <paramref name="job"/>). Returns the report of its result, which is
    /// delivered after the stage's span has ended — the job may finish on it.
    /// </summary>
    protected abstract Task<Func<IBundleJobReports, Task>> RunAsync(TRequest request, IBundleJobReports job, Activity? span, CancellationToken ct);

    protected string SiloAddress => silo.SiloAddress.ToString();

    /// <summary>The clock retry windows and report cadences are measured on.</summary>
    protected TimeProvider Time => time;

    public Task StartAsync(TRequest request)
    {
        _run.StartOnce(ct => RunStageAsync(request, ct));
        return Task.CompletedTask;
    }

    public Task StopAsync() => _run.StopAsync();

    /// <summary>
    /// True while the activation goes away because its silo stops gracefully (SIGTERM, a scale-in): the stage winds
    /// down to a clean point (the sealer lets its part writes finish and saves its checkpoint) for its successor.
    /// </summary>
    protected bool HandingOver { get; private set; }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        HandingOver = reason.ReasonCode is DeactivationReasonCode.ShuttingDown or DeactivationReasonCode.Migrating;
        _run.Cancel();
        if (HandingOver)
        {
            // Bounded by Orleans' deactivation budget (the token); the silo's shutdown waits for this. A successor
            // that starts before a cut-short handover has saved waits for it (BundleSealerGrain.SettledResumePointAsync).
            if (!await _run.WaitStoppedAsync(cancellationToken))
            {
                LogHandoverCutShort(logger, this.GetPrimaryKeyString(), Stage);
            }
        }
    }

    private async Task RunStageAsync(TRequest request, CancellationToken ct)
    {
        ImageSlicePlan plan = PlanOf(request);
        var job = GrainFactory.GetGrain<IBundleJobReports>(plan.JobId);
        using IDisposable? scope = logger.BeginJobScope(plan.JobId);
        Activity? span = JobTracing.StartJobSpan(SpanName, plan.TraceParent);
        span?.SetTag(TelemetryNames.Attributes.JobId, plan.JobId);
        span?.SetTag(TelemetryNames.Attributes.Silo, SiloAddress);
        try
        {
            Func<IBundleJobReports, Task> result = await RunAsync(request, job, span, ct);
            span?.Dispose();
            span = null;
            await JobReporting.ResultAsync(() => result(job), new RetryWindow(time, reportWindow), ct);
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
            // Stopped by the job grain (which cleans up the destination), or this activation is going away and the
            // watchdog restarts the stage elsewhere; whatever failed on the way out is not the job's failure.
            span?.SetTag(TelemetryNames.Attributes.Outcome, "Stopped");
        }
        catch (Exception ex)
        {
            LogStageFailed(logger, ex, plan.JobId, Stage);
            span.SetFailed(ex.ErrorKind().ToString());
            span?.Dispose();
            span = null;
            await JobReporting.ResultAsync(() => job.ReportFailureAsync(Stage, ex.ErrorKind(), ex.UserMessage()), new RetryWindow(time, reportWindow), ct);
        }
        finally
        {
            span?.Dispose();
            DeactivateOnIdle();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: the {Stage} stage's handover was cut short by the deactivation budget")]
    private static partial void LogHandoverCutShort(ILogger logger, string jobId, PipelineStage stage);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId}: the {Stage} stage failed")]
    private static partial void LogStageFailed(ILogger logger, Exception ex, string jobId, PipelineStage stage);
}
