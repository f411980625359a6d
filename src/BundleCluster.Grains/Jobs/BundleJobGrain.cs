using System.Diagnostics;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Abstractions.Telemetry;
using BundleCluster.Grains.Hosting;
using BundleCluster.Grains.Pipeline;
using BundleCluster.Grains.Telemetry;
using BundleCluster.Storage.Sinks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace BundleCluster.Grains.Jobs;

/// <summary>
/// One bundle job. Validates and plans it, starts the tar digest and the sealer (which may live on any silo), and
/// when both have reported, assembles, signs and commits the manifest — last, after every part is in place.
/// Reentrant: reports from the pipeline and status queries interleave with its own awaits; every state change
/// happens between awaits, and the commit is guarded against running twice.
/// It holds the job's root span (<c>bundle.job</c>) from submit to the end; see <see cref="JobTracing"/>.
/// </summary>
[Reentrant]
internal sealed partial class BundleJobGrain(
    [PersistentState("job", BundleClusterOptions.JobStorage)] IPersistentState<BundleJobRecord> record,
    IOptions<BundleClusterOptions> options,
    PipelineMetrics metrics,
    TimeProvider time,
    ILogger<BundleJobGrain> logger)
    : Grain, IBundleJobGrain, IBundleJobReports, IAdmittedJob, IRemindable
{
    private const string WatchdogReminder = "watchdog";

    /// <summary>How long a status read waits for the queue position before answering with the last one known.</summary>
    private static readonly TimeSpan QueuePositionWait = TimeSpan.FromSeconds(2);
    private IBundleSink? _sink;
    private bool _committing;
    private IGrainTimer? _watchdog;

    /// <summary>The root span started at submit, while this activation holds it (a later activation ends a stand-in).</summary>
    private Activity? _jobSpan;

    private BundleJobRecord State => record.State;

    /// <summary>The one way the status changes: it is also what this silo's job gauges show.</summary>
    private void SetStatus(BundleJobStatus status)
    {
        State.Status = status with { SlicesPending = PendingSlices(status) };
        metrics.Publish(this, new PipelineMetrics.JobGauge(status.State, State.Status.SlicesPending));
    }

    private IJobQueueGrain Queue => GrainFactory.GetGrain<IJobQueueGrain>(0);

    private BundleJobStatus Status => State.Status ?? new BundleJobStatus { JobId = this.GetPrimaryKeyString(), State = BundleJobState.Queued };

    public async Task<BundleJobStatus> StartAsync(BundleJobSpec spec)
    {
        if (State.Spec is not null)
        {
            if (!(Status.IsFinished && Status.ErrorKind == JobErrorKind.QuotaExceeded))
            {
                return Status; // idempotent: the same id names the same job
            }

            // The queue refused it and it wrote nothing: a retry under the same key (a re-run nightly job, a client
            // that backs off) gets a fresh try instead of the old refusal forever.
            record.State = new BundleJobRecord();
            _sink?.Dispose();
            _sink = null;
        }

        string jobId = this.GetPrimaryKeyString();
        using IDisposable? scope = logger.BeginJobScope(jobId);
        ActivityContext caller = JobTracing.CallerContext();
        _jobSpan = JobTracing.StartRoot(TelemetryNames.Spans.Job, caller);
        _jobSpan?.SetTag(TelemetryNames.Attributes.JobId, jobId);
        State.TraceParent = _jobSpan?.Id;
        State.CallerTraceParent = JobTracing.Format(caller);
        State.Spec = spec;
        SetStatus(new BundleJobStatus
        {
            JobId = jobId,
            State = BundleJobState.Queued,
            Destination = spec.Destination,
            CompressionLevel = spec.CompressionLevel,
            StartedAt = time.GetUtcNow(),
            TraceId = _jobSpan?.TraceId.ToHexString(),
            Tenant = spec.Tenant,
            Labels = spec.Labels,
            RequestFingerprint = spec.RequestFingerprint,
        });
        try
        {
            if (spec.Tenant is { } tenant)
            {
                // Listed before preparation, so a tenant sees its refused jobs too (the reason is in their status).
                await GrainFactory.GetGrain<ITenantJobsGrain>(tenant).AddAsync(jobId);
            }

            State.Spec = spec = JobPreparation.WithIdentity(spec with { S3 = spec.S3 ?? options.Value.DefaultS3 }, options.Value);
            _sink = PlanExtensions.OpenSink(spec.Destination, jobId, spec.S3, options.Value);
            JobPreparation.Prepared prepared;
            using (Activity? preparing = JobTracing.StartJobSpan(TelemetryNames.Spans.Prepare, State.TraceParent))
            {
                try
                {
                    // Key files, certificates, RSA wrapping and the image's identity: file and CPU work, off the grain's turn.
                    IBundleSink sink = _sink;
                    prepared = await Task.Run(() => JobPreparation.PrepareAsync(jobId, spec, sink, options.Value, CancellationToken.None));
                }
                catch (Exception ex)
                {
                    preparing.SetFailed(ex.ErrorKind().ToString());
                    throw;
                }
            }

            if (prepared.BaselineWarning is { } refused)
            {
                State.Spec = spec = spec with { Baseline = null };
                SetStatus(Status with { Warnings = [refused] });
            }

            State.Plan = prepared.Plan with { TraceParent = State.TraceParent };
            State.PrivateKeyVersion = prepared.PrivateKeyVersion;
            State.Ec2EncryptedKey = prepared.Key.Ec2EncryptedKey;
            State.UserEncryptedKey = prepared.Key.UserEncryptedKey;
            State.Ec2EncryptedIv = prepared.Key.Ec2EncryptedIv;
            State.UserEncryptedIv = prepared.Key.UserEncryptedIv;
            await GrainFactory.GetGrain<IJobRegistryGrain>(0).RegisterAsync(jobId);
            SetStatus(Status with
            {
                Prefix = prepared.Prefix,
                ImageBytes = prepared.Plan.ImageSize,
                TarBytes = prepared.Plan.TarLength,
            });
        }
        catch (Exception ex)
        {
            var invalid = ex as JobValidationException;
            SetStatus(Status with
            {
                State = BundleJobState.Failed,
                Error = ex.UserMessage(),
                ErrorKind = ex.ErrorKind(),
                ErrorField = invalid?.Field,
                FinishedAt = time.GetUtcNow(),
            });
            await record.WriteStateAsync();
            RecordFinished();
            return Status;
        }

        await record.WriteStateAsync();
        try
        {
            // The reminder outlives this activation and this silo: it brings the job back after a crash or a
            // whole-cluster restart, waiting or running. The timer, while active here, notices a lost digest or sealer
            // (or a lost admission) within seconds. A job that ends with its process (the embedded silo) has nothing
            // to come back to and needs no reminder.
            if (options.Value.JobsOutliveProcess)
            {
                await this.RegisterOrUpdateReminder(WatchdogReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
            }

            StartWatchdog();
        }
        catch (Exception ex)
        {
            await StopAsync(BundleJobState.Failed, $"the job could not be queued: {ex.UserMessage()}", ex.ErrorKind(), stopSealer: false, stopDigest: false);
            return Status;
        }

        await EnterQueueAsync();
        return Status;
    }

    public async Task<BundleJobStatus> GetStatusAsync()
    {
        if (Status.State == BundleJobState.Queued && State.Plan is not null)
        {
            try
            {
                // Bounded: a status read must answer even while the queue's silo is unreachable (after a crash, until
                // membership has declared it dead); the last known position stands then.
                int? position = await Queue.GetPositionAsync(this.GetPrimaryKeyString()).WaitAsync(QueuePositionWait);
                SetStatus(Status with { QueuePosition = position ?? Status.QueuePosition });
            }
            catch (Exception ex) when (ex is TimeoutException or OrleansException)
            {
                // the last known position stands
            }
        }

        return Status;
    }

    /// <summary>
    /// Enters the job queue (again: idempotent) and acts on its answer: run now, wait at a position, or end refused.
    /// A waiting job calls this on every watchdog tick, so an admission message it missed is heard within seconds.
    /// </summary>
    private async Task EnterQueueAsync()
    {
        QueueAnswer answer;
        try
        {
            answer = await Queue.EnterAsync(new QueueTicket(this.GetPrimaryKeyString(), State.Spec!.Tenant, State.Spec.Priority,
                Status.StartedAt ?? time.GetUtcNow(), State.Spec.Quota, State.Plan!.SliceCount));
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansException)
        {
            LogWatchdogRetry(logger, ex, this.GetPrimaryKeyString()); // the queue's silo is going away: next tick
            return;
        }

        if (answer.Refusal is not null)
        {
            await StopAsync(BundleJobState.Failed, answer.Refusal, JobErrorKind.QuotaExceeded, stopSealer: false, stopDigest: false);
        }
        else if (answer.Admitted)
        {
            await BeginRunningAsync();
        }
        else if (Status.State == BundleJobState.Queued)
        {
            SetStatus(Status with { QueuePosition = answer.Position });
        }
    }

    public async Task AdmitAsync()
    {
        if (Status.IsFinished)
        {
            await LeaveQueueAsync(); // admitted after it ended (a stale place): give the place back
            return;
        }

        await BeginRunningAsync();
    }

    /// <summary>Queued → Running: the queue gave the job a place; start its digest and sealer.</summary>
    private async Task BeginRunningAsync()
    {
        if (Status.State != BundleJobState.Queued || State.Plan is not { } plan)
        {
            return; // already running (admission heard twice), or ended
        }

        string jobId = this.GetPrimaryKeyString();
        using IDisposable? scope = logger.BeginJobScope(jobId);
        SetStatus(Status with { State = BundleJobState.Running, QueuePosition = null, RunningSince = time.GetUtcNow() });
        await record.WriteStateAsync();
        LogStarted(logger, jobId, plan.ImageSize, plan.SliceCount);
        await EnsurePipelineAsync();
    }

    /// <summary>Gives the job's place in the queue back (best effort: the queue takes back places of ended jobs itself).</summary>
    private async Task LeaveQueueAsync()
    {
        try
        {
            await Queue.LeaveAsync(this.GetPrimaryKeyString());
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansException)
        {
            LogLeaveFailed(logger, ex, this.GetPrimaryKeyString());
        }
    }

    /// <summary>Slices not sealed yet (the backlog), from the tar-stream bytes the sealer reports sealed; 0 once finished.</summary>
    private long PendingSlices(BundleJobStatus status)
    {
        ImageSlicePlan? plan = State.Plan;
        return plan is null || status.IsFinished ? 0 : plan.SliceCount - Math.Min(plan.SliceCount, status.TarBytesSealed / plan.SliceSize);
    }

    /// <summary>
    /// Ends the root span with the job's outcome and records the job's duration. Called once, when the job becomes
    /// finished. An activation that did not start the job (its first silo died or stopped) ends a stand-in: same name,
    /// start time, parent and attributes, marked resumed and linked to the original.
    /// </summary>
    private void RecordFinished()
    {
        BundleJobStatus status = Status;
        if (State.Spec?.Series is { } series)
        {
            GrainFactory.GetGrain<Abstractions.Series.ISeriesGrain>(series).JobFinishedAsync(status).Ignore(); // one-way
        }

        Activity? span = _jobSpan ?? StartStandInRootSpan();
        _jobSpan = null;
        if (span is not null)
        {
            span.SetTag(TelemetryNames.Attributes.JobId, status.JobId);
            span.SetTag(TelemetryNames.Attributes.Prefix, status.Prefix);
            span.SetTag(TelemetryNames.Attributes.ImageBytes, status.ImageBytes);
            span.SetTag(TelemetryNames.Attributes.TarBytes, status.TarBytes);
            span.SetTag(TelemetryNames.Attributes.BundleBytes, status.BundledBytes);
            span.SetTag(TelemetryNames.Attributes.Level, status.CompressionLevel);
            span.SetTag(TelemetryNames.Attributes.Outcome, status.State.ToString());
            if (status.ErrorKind is { } kind)
            {
                span.SetFailed(kind.ToString());
            }

            span.Stop();
        }

        if (status.StartedAt is { } started && status.FinishedAt is { } finished)
        {
            metrics.JobDuration.Record((finished - started).TotalSeconds,
                new KeyValuePair<string, object?>(TelemetryNames.Attributes.Outcome, status.State.ToString()));
        }
    }

    private Activity? StartStandInRootSpan()
    {
        ActivityContext original = JobTracing.Parse(State.TraceParent);
        if (original == default)
        {
            return null; // the job was not traced when it was submitted
        }

        // A span cannot take a given span id, so the stand-in hangs under the caller (or the original root span when
        // there was no caller), which keeps it in the job's trace.
        ActivityContext parent = JobTracing.Parse(State.CallerTraceParent) is { } caller && caller != default ? caller : original;
        Activity? span = JobTracing.Source.StartActivity(TelemetryNames.Spans.Job, ActivityKind.Server, parent,
            links: [new ActivityLink(original)], startTime: Status.StartedAt ?? time.GetUtcNow());
        span?.SetTag(TelemetryNames.Attributes.Resumed, true);
        return span;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _sink?.Dispose(); // an S3 sink holds an HTTP client
        _sink = null;
        metrics.Untrack(this);
        if (_jobSpan is not null)
        {
            // The job goes on in another activation, which ends a stand-in root span with the outcome; this one ends
            // here so that the spans already recorded under it keep their parent.
            _jobSpan.SetTag(TelemetryNames.Attributes.Outcome, "HandedOver");
            _jobSpan.Stop();
            _jobSpan = null;
        }

        return Task.CompletedTask;
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (State.Status is { } persisted)
        {
            SetStatus(persisted); // counts a resumed job in this silo's gauges
        }

        if (State.Status?.State == BundleJobState.Running)
        {
            string jobId = this.GetPrimaryKeyString();
            using IDisposable? scope = logger.BeginJobScope(jobId);
            LogResumed(logger, jobId);
            StartWatchdog();
            await EnsurePipelineAsync();
        }
        else if (State.Status?.State == BundleJobState.Queued && State.Plan is not null)
        {
            StartWatchdog(); // keeps its place in the queue and hears its admission (the first tick re-enters)
        }
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        using IDisposable? scope = logger.BeginJobScope(this.GetPrimaryKeyString());
        if (Status.IsFinished)
        {
            await StopWatchdogAsync();
            return;
        }

        await EnsurePipelineAsync(); // activation already restarted the timer
    }

    private void StartWatchdog()
    {
        _watchdog ??= this.RegisterGrainTimer(_ => EnsurePipelineAsync(), options.Value.WatchdogInterval, options.Value.WatchdogInterval);
    }

    private async Task StopWatchdogAsync()
    {
        _watchdog?.Dispose();
        _watchdog = null;
        if (!options.Value.JobsOutliveProcess)
        {
            return;
        }

        IGrainReminder? reminder = await this.GetReminder(WatchdogReminder);
        if (reminder is not null)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    /// <summary>
    /// Makes sure each stage whose result is not in yet is running: starting a stage is idempotent on a live
    /// activation and starts it afresh on a new one (its silo died); a finished stage is never restarted.
    /// </summary>
    private async Task EnsurePipelineAsync()
    {
        if (Status.IsFinished || State.Plan is null || State.Spec is null)
        {
            return;
        }

        if (Status.State == BundleJobState.Queued)
        {
            await EnterQueueAsync();
            return;
        }

        string jobId = this.GetPrimaryKeyString();
        try
        {
            if (State.TarDigest is null)
            {
                await GrainFactory.GetGrain<ITarDigestGrain>(jobId).StartAsync(State.Plan);
            }

            if (State.Sealed is null)
            {
                await GrainFactory.GetGrain<IBundleSealerGrain>(jobId).StartAsync(new SealRequest(State.Plan,
                    State.UserEncryptedKey!, State.UserEncryptedIv!, State.Spec.PrivateKeyPath, State.Spec.Destination, State.Spec.S3,
                    State.Spec.Baseline, State.Spec.UserCertificatePath));
            }

            await TryCommitAsync();
        }
        catch (Exception ex)
        {
            // A silo is going away; the next tick tries again on whatever the cluster has.
            LogWatchdogRetry(logger, ex, jobId);
        }
    }

    public async Task<BundleJobStatus> CancelAsync(string reason)
    {
        if (!Status.IsFinished && State.Spec is not null)
        {
            bool running = Status.State == BundleJobState.Running; // a waiting job has no stages to stop
            await StopAsync(BundleJobState.Cancelled, $"cancelled: {reason}", null, stopSealer: running, stopDigest: running);
        }

        return Status;
    }

    public Task ReportSealProgressAsync(SealProgress progress)
    {
        if (!Status.IsFinished)
        {
            SetStatus(WithIncremental(Status with
            {
                TarBytesSealed = progress.TarBytesSealed,
                PartsWritten = progress.PartsWritten,
                BundledBytes = progress.BundledBytes,
                Silos = progress.Silos,
                SealerSilo = progress.SealerSilo,
                PartsResumed = Math.Max(Status.PartsResumed, progress.PartsResumed),
                PartsRewritten = Math.Max(Status.PartsRewritten, progress.PartsRewritten), // cumulative across sealers
            }, progress.Incremental));
        }

        return Task.CompletedTask;
    }

    /// <summary>The sealer's incremental counts in the status; its warning joins the job's (once).</summary>
    private static BundleJobStatus WithIncremental(BundleJobStatus status, IncrementalCounts? counts) => counts is null ? status : status with
    {
        SlicesReused = counts.SlicesReused,
        SlicesCompressed = counts.SlicesCompressed,
        BaselineBytesRead = counts.BaselineBytesRead,
        Warnings = counts.Warning is { } warning && !(status.Warnings ?? []).Contains(warning) ? [.. status.Warnings ?? [], warning] : status.Warnings,
    };

    public Task ReportDigestProgressAsync(long tarBytesDigested)
    {
        if (!Status.IsFinished)
        {
            SetStatus(Status with { TarBytesDigested = tarBytesDigested });
        }

        return Task.CompletedTask;
    }

    public async Task ReportSealedAsync(SealOutcome outcome)
    {
        if (Status.IsFinished)
        {
            return;
        }

        State.Sealed = outcome;
        SetStatus(WithIncremental(Status, outcome.Incremental));
        await record.WriteStateAsync();
        await TryCommitAsync();
    }

    public async Task ReportDigestAsync(string sha1Hex, uint tarCrc32)
    {
        if (Status.IsFinished)
        {
            return;
        }

        State.TarDigest = sha1Hex;
        State.TarCrc32 = tarCrc32;
        SetStatus(Status with { TarBytesDigested = Status.TarBytes, ImageDigest = sha1Hex });
        await record.WriteStateAsync();
        await TryCommitAsync();
    }

    public async Task ReportFailureAsync(PipelineStage stage, JobErrorKind errorKind, string message)
    {
        if (!Status.IsFinished)
        {
            using IDisposable? scope = logger.BeginJobScope(this.GetPrimaryKeyString());
            LogFailed(logger, this.GetPrimaryKeyString(), stage, message);
            // The reporting stage has already ended; waiting for it to stop would wait for this very call.
            await StopAsync(BundleJobState.Failed, message, errorKind, stopSealer: stage != PipelineStage.Seal, stopDigest: stage != PipelineStage.Digest);
        }
    }

    /// <summary>Commits once both the digest and the sealed parts are in: manifest assembled, signed, written last.</summary>
    private async Task TryCommitAsync()
    {
        if (_committing || State.TarDigest is null || State.Sealed is null || Status.IsFinished)
        {
            return;
        }

        _committing = true;
        string jobId = this.GetPrimaryKeyString();
        using IDisposable? scope = logger.BeginJobScope(jobId);
        Activity? committing = JobTracing.StartJobSpan(TelemetryNames.Spans.Commit, State.TraceParent);
        try
        {
            _sink ??= PlanExtensions.OpenSink(State.Spec!.Destination, jobId, State.Spec.S3, options.Value);
            string manifestPath = await JobCommit.CommitAsync(State, _sink, options.Value, CancellationToken.None);
            committing?.Dispose();
            committing = null;
            SetStatus(Status with
            {
                State = BundleJobState.Completed,
                ManifestPath = manifestPath,
                PartsWritten = State.Sealed.Parts.Count,
                BundledBytes = State.Sealed.BundledSize,
                TarBytesSealed = State.Plan!.TarLength,
                FinishedAt = time.GetUtcNow(),
            });
            // Callers may see Completed during the next await and end their process (bundlectl stops its embedded
            // silo then): the root span ends before that await, so it is always exported.
            RecordFinished();
            LogCompleted(logger, jobId, manifestPath);
            await record.WriteStateAsync();
            await LeaveQueueAsync();
            await StopWatchdogAsync();
        }
        catch (Exception ex)
        {
            committing.SetFailed(ex.ErrorKind().ToString());
            committing?.Dispose();
            committing = null;
            await StopAsync(BundleJobState.Failed, ex.UserMessage(), ex.ErrorKind(), stopSealer: false, stopDigest: false);
        }
        finally
        {
            committing?.Dispose();
            _committing = false;
        }
    }

    /// <summary>Stops the pipeline, then removes everything the job wrote; the job ends with no manifest and no parts.</summary>
    private async Task StopAsync(BundleJobState state, string error, JobErrorKind? errorKind, bool stopSealer, bool stopDigest)
    {
        string jobId = this.GetPrimaryKeyString();
        SetStatus(Status with { State = state, Error = error, ErrorKind = errorKind, FinishedAt = time.GetUtcNow(), QueuePosition = null });
        await record.WriteStateAsync();
        await LeaveQueueAsync();
        try
        {
            using Activity? aborting = JobTracing.StartJobSpan(TelemetryNames.Spans.Abort, State.TraceParent);
            await StopWatchdogAsync();
            await Task.WhenAll(
                stopSealer ? GrainFactory.GetGrain<IBundleSealerGrain>(jobId).StopAsync() : Task.CompletedTask,
                stopDigest ? GrainFactory.GetGrain<ITarDigestGrain>(jobId).StopAsync() : Task.CompletedTask);
            if (State.Spec is not null)
            {
                _sink ??= PlanExtensions.OpenSink(State.Spec.Destination, jobId, State.Spec.S3, options.Value);
                await _sink.AbortAsync(CancellationToken.None);
            }
        }
        finally
        {
            RecordFinished(); // the job's span covers the clean-up
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} started: {ImageSize} image bytes in {Slices} slices")]
    private static partial void LogStarted(ILogger logger, string jobId, long imageSize, int slices);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} resumed on this silo from its persisted state")]
    private static partial void LogResumed(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: could not reach a pipeline stage; retrying on the next watchdog tick")]
    private static partial void LogWatchdogRetry(ILogger logger, Exception ex, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} could not give its place in the job queue back; the queue takes it back itself")]
    private static partial void LogLeaveFailed(ILogger logger, Exception ex, string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} completed: {Manifest}")]
    private static partial void LogCompleted(ILogger logger, string jobId, string manifest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed in {Stage}: {Message}")]
    private static partial void LogFailed(ILogger logger, string jobId, PipelineStage stage, string message);
}
