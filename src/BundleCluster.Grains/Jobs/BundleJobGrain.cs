using System.Security.Cryptography;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Format.Bundling;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Manifest;
using BundleCluster.Format.Parts;
using BundleCluster.Grains.Hosting;
using BundleCluster.Grains.Pipeline;
using BundleCluster.Storage.Sinks;
using BundleCluster.Storage.Sources;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace BundleCluster.Grains.Jobs;

/// <summary>
/// One bundle job. Validates and plans it, starts the tar digest and the sealer (which may live on any silo), and
/// when both have reported, assembles, signs and commits the manifest — last, after every part is in place.
/// Reentrant: reports from the pipeline and status queries interleave with its own awaits; every state change
/// happens between awaits, and the commit is guarded against running twice.
/// </summary>
[Reentrant]
internal sealed partial class BundleJobGrain(
    [PersistentState("job", BundleClusterOptions.JobStorage)] IPersistentState<BundleJobRecord> record,
    IOptions<BundleClusterOptions> options,
    ILogger<BundleJobGrain> logger)
    : Grain, IBundleJobGrain, IBundleJobReports, IRemindable
{
    private const string WatchdogReminder = "watchdog";
    private IBundleSink? _sink;
    private bool _committing;
    private IGrainTimer? _watchdog;

    private BundleJobRecord State => record.State;

    private BundleJobStatus Status => State.Status ?? new BundleJobStatus { JobId = this.GetPrimaryKeyString(), State = BundleJobState.Queued };

    public async Task<BundleJobStatus> StartAsync(BundleJobSpec spec)
    {
        if (State.Spec is not null)
        {
            return Status; // idempotent: the same id names the same job
        }

        string jobId = this.GetPrimaryKeyString();
        State.Spec = spec;
        State.Status = new BundleJobStatus
        {
            JobId = jobId,
            State = BundleJobState.Queued,
            Destination = spec.Destination,
            CompressionLevel = spec.CompressionLevel,
            StartedAt = DateTimeOffset.UtcNow,
        };
        try
        {
            _sink = PlanExtensions.OpenSink(spec.Destination, jobId, spec.S3, options.Value);
            JobPreparation.Prepared prepared = await JobPreparation.PrepareAsync(jobId, spec, _sink, options.Value, CancellationToken.None);
            State.Plan = prepared.Plan;
            State.PrivateKeyVersion = prepared.PrivateKeyVersion;
            State.Ec2EncryptedKey = prepared.Key.Ec2EncryptedKey;
            State.UserEncryptedKey = prepared.Key.UserEncryptedKey;
            State.Ec2EncryptedIv = prepared.Key.Ec2EncryptedIv;
            State.UserEncryptedIv = prepared.Key.UserEncryptedIv;
            await GrainFactory.GetGrain<IJobRegistryGrain>(0).RegisterAsync(jobId);
            State.Status = Status with
            {
                State = BundleJobState.Running,
                Prefix = prepared.Prefix,
                ImageBytes = prepared.Plan.ImageSize,
                TarBytes = prepared.Plan.TarLength,
            };
        }
        catch (Exception ex)
        {
            var invalid = ex as JobValidationException;
            State.Status = Status with
            {
                State = BundleJobState.Failed,
                Error = ex.UserMessage(),
                ErrorKind = ex.ErrorKind(),
                ErrorField = invalid?.Field,
                FinishedAt = DateTimeOffset.UtcNow,
            };
            await record.WriteStateAsync();
            return Status;
        }

        await record.WriteStateAsync();
        ImageSlicePlan plan = State.Plan;
        try
        {
            // The reminder outlives this activation and this silo: it brings the job back after a crash or a
            // whole-cluster restart. The timer, while active here, notices a lost digest or sealer within seconds.
            await this.RegisterOrUpdateReminder(WatchdogReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
            StartWatchdog();
            await EnsurePipelineAsync();
        }
        catch (Exception ex)
        {
            await StopAsync(BundleJobState.Failed, $"the pipeline could not start: {ex.UserMessage()}", ex.ErrorKind(), stopSealer: true, stopDigest: true);
            return Status;
        }


        LogStarted(logger, jobId, plan.ImageSize, plan.SliceCount);
        return Status;
    }

    public Task<BundleJobStatus> GetStatusAsync() => Task.FromResult(Status);

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _sink?.Dispose(); // an S3 sink holds an HTTP client
        _sink = null;
        return Task.CompletedTask;
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (State.Status?.State == BundleJobState.Running)
        {
            LogResumed(logger, this.GetPrimaryKeyString());
            StartWatchdog();
            await EnsurePipelineAsync();
        }
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
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
                    State.UserEncryptedKey!, State.UserEncryptedIv!, State.Spec.PrivateKeyPath, State.Spec.Destination, State.Spec.S3));
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
            await StopAsync(BundleJobState.Cancelled, $"cancelled: {reason}", null, stopSealer: true, stopDigest: true);
        }

        return Status;
    }

    public Task ReportSealProgressAsync(SealProgress progress)
    {
        if (!Status.IsFinished)
        {
            State.Status = Status with
            {
                TarBytesSealed = progress.TarBytesSealed,
                PartsWritten = progress.PartsWritten,
                BundledBytes = progress.BundledBytes,
                Silos = progress.Silos,
                SealerSilo = progress.SealerSilo,
                PartsResumed = Math.Max(Status.PartsResumed, progress.PartsResumed),
            };
        }

        return Task.CompletedTask;
    }

    public Task ReportDigestProgressAsync(long tarBytesDigested)
    {
        if (!Status.IsFinished)
        {
            State.Status = Status with { TarBytesDigested = tarBytesDigested };
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
        State.Status = Status with { TarBytesDigested = Status.TarBytes, ImageDigest = sha1Hex };
        await record.WriteStateAsync();
        await TryCommitAsync();
    }

    public async Task ReportFailureAsync(string stage, string errorKind, string message)
    {
        if (!Status.IsFinished)
        {
            LogFailed(logger, this.GetPrimaryKeyString(), stage, message);
            // The reporting stage has already ended; waiting for it to stop would wait for this very call.
            await StopAsync(BundleJobState.Failed, message, errorKind, stopSealer: stage != "seal", stopDigest: stage != "digest");
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
        BundleJobSpec spec = State.Spec!;
        ImageSlicePlan plan = State.Plan!;
        try
        {
            TarStreamDigest.RequireSameBytes(State.TarCrc32 ?? State.Sealed.TarCrc32, State.Sealed.TarCrc32, $"image '{spec.ImagePath}'");
            ManifestMetadata metadata = ManifestMetadata.Create(spec.Architecture, spec.User, spec.BlockDeviceMappings,
                spec.KernelId, spec.RamdiskId, spec.ProductCodes);
            var seal = new SealResult(
                State.Sealed.Parts.Select(p => new PartRecord(p.Index, p.Length, p.Sha1Hex)).ToList(),
                State.Sealed.BundledSize, State.Sealed.GzipLength, plan.TarLength);
            var key = new WrappedBundleKey(State.Ec2EncryptedKey!, State.UserEncryptedKey!, State.Ec2EncryptedIv!, State.UserEncryptedIv!);
            BundleManifest manifest = ManifestAssembly.Build(plan.MemberName, metadata, plan.ImageSize, State.TarDigest, seal, key);
            string text;
            // The key file must still be the one validated at preparation: a swapped link must not turn the silo into
            // a signing service for some other key it can read.
            using (RSA signingKey = KeyFiles.LoadPrivateKey(spec.PrivateKeyPath, f =>
                   {
                       AllowedRoots.RequireOpened(f, options.Value.KeyFileRoots(), "private key");
                       f.RequireIdentity(State.PrivateKeyVersion ?? f.Identity.ToString(), "private key");
                   }))
            {
                text = ManifestWriter.WriteSigned(manifest, signingKey);
            }

            _sink ??= PlanExtensions.OpenSink(spec.Destination, plan.JobId, spec.S3, options.Value);
            await _sink.CommitAsync(BundleManifest.FileName(plan.MemberName), manifest.Image.Parts.Select(p => p.FileName).ToList(), text, CancellationToken.None);
            string manifestPath = Storage.S3.S3Location.IsS3(spec.Destination)
                ? Storage.S3.S3Location.Parse(spec.Destination) + BundleManifest.FileName(plan.MemberName)
                : Path.Combine(Path.GetFullPath(spec.Destination), BundleManifest.FileName(plan.MemberName));
            State.Status = Status with
            {
                State = BundleJobState.Completed,
                ManifestPath = manifestPath,
                PartsWritten = seal.Parts.Count,
                BundledBytes = seal.BundledSize,
                TarBytesSealed = plan.TarLength,
                FinishedAt = DateTimeOffset.UtcNow,
            };
            await record.WriteStateAsync();
            await StopWatchdogAsync();
            LogCompleted(logger, plan.JobId, manifestPath);
        }
        catch (Exception ex)
        {
            await StopAsync(BundleJobState.Failed, ex.UserMessage(), ex.ErrorKind(), stopSealer: false, stopDigest: false);
        }
        finally
        {
            _committing = false;
        }
    }

    /// <summary>Stops the pipeline, then removes everything the job wrote; the job ends with no manifest and no parts.</summary>
    private async Task StopAsync(BundleJobState state, string error, string? errorKind, bool stopSealer, bool stopDigest)
    {
        string jobId = this.GetPrimaryKeyString();
        State.Status = Status with { State = state, Error = error, ErrorKind = errorKind, FinishedAt = DateTimeOffset.UtcNow };
        await record.WriteStateAsync();
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} started: {ImageSize} image bytes in {Slices} slices")]
    private static partial void LogStarted(ILogger logger, string jobId, long imageSize, int slices);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} resumed on this silo from its persisted state")]
    private static partial void LogResumed(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: could not reach a pipeline stage; retrying on the next watchdog tick")]
    private static partial void LogWatchdogRetry(ILogger logger, Exception ex, string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} completed: {Manifest}")]
    private static partial void LogCompleted(ILogger logger, string jobId, string manifest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed in {Stage}: {Message}")]
    private static partial void LogFailed(ILogger logger, string jobId, string stage, string message);
}
