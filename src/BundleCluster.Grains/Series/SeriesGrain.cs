using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Series;
using BundleCluster.Format.Incremental;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Tar;
using BundleCluster.Grains.Hosting;
using BundleCluster.Grains.Jobs;
using BundleCluster.Grains.Pipeline;
using BundleCluster.Grains.Telemetry;
using BundleCluster.Storage;
using BundleCluster.Storage.Sources;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BundleCluster.Grains.Series;

/// <summary>A series as persisted.</summary>
[GenerateSerializer, Alias("bc.SeriesRecord")]
public sealed class SeriesRecord
{
    [Id(0)] public SeriesDefinition? Definition { get; set; }

    [Id(1)] public bool Paused { get; set; }

    [Id(2)] public string? PauseReason { get; set; }

    [Id(3)] public int ConsecutiveFailures { get; set; }

    [Id(4)] public SeriesSuccess? LastSuccess { get; set; }

    /// <summary>Oldest first; one per date.</summary>
    [Id(5)] public List<SeriesRun> Runs { get; set; } = [];
}

/// <summary>
/// One series (key <c>TENANT/NAME</c>). A run first decides whether the image changed since the last success
/// (<see cref="UnchangedCheck"/>; reading the image happens off the grain's turn and outside the call, so a long content
/// check never times a caller out), then submits the night's job with the last success as its baseline. The job tells
/// the series when it ends; a series asked about a run it has not heard of looks for itself, so a lost message or a
/// restarted silo never leaves a run hanging. <see cref="SeriesDefinition.MaxConsecutiveFailures"/> failed runs in a
/// row pause the series, with the reason in its status and in the <c>bundlecluster.series.paused</c> metric.
/// </summary>
internal sealed partial class SeriesGrain(
    [PersistentState("series", BundleClusterOptions.JobStorage)] IPersistentState<SeriesRecord> record,
    IOptions<BundleClusterOptions> options,
    PipelineMetrics metrics,
    TimeProvider time,
    ILogger<SeriesGrain> logger) : Grain, ISeriesGrain
{
    private const int RunsKept = 400;
    private readonly Dictionary<string, Task> _deciding = [];

    /// <summary>A decision in the background and a call may both write: one write at a time keeps the stored version in step.</summary>
    private Task _writes = Task.CompletedTask;

    private string Key => this.GetPrimaryKeyString();

    private string Tenant => Key[..Key.IndexOf('/', StringComparison.Ordinal)];

    private string Name => Key[(Key.IndexOf('/', StringComparison.Ordinal) + 1)..];

    private SeriesRecord State => record.State;

    public async Task<SeriesStatus> PutAsync(SeriesDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        bool created = State.Definition is null;
        State.Definition = definition;
        await WriteAsync();
        if (created)
        {
            await GrainFactory.GetGrain<ITenantSeriesGrain>(Tenant).AddAsync(Name);
        }

        return Status();
    }

    public async Task<SeriesStatus> GetAsync()
    {
        if (State.Runs.Count > 0 && !State.Runs[^1].IsFinished)
        {
            await RefreshAsync(State.Runs[^1]);
        }

        return Status();
    }

    public async Task<SeriesStatus> PauseAsync(string reason)
    {
        RequireExists();
        State.Paused = true;
        State.PauseReason = reason;
        await WriteAsync();
        return Status();
    }

    public async Task<SeriesStatus> ResumeAsync()
    {
        RequireExists();
        State.Paused = false;
        State.PauseReason = null;
        State.ConsecutiveFailures = 0;
        await WriteAsync();
        return Status();
    }

    public async Task<SeriesRun> RunAsync(string scheduledDate)
    {
        RequireExists();
        string date = SeriesDefinition.RequireDate(scheduledDate);
        SeriesRun? existing = State.Runs.Find(r => r.Date == date);
        if (existing is not null && existing.State != SeriesRunState.Skipped)
        {
            return await RefreshAsync(existing); // the same night again: the same run
        }

        if (State.Paused)
        {
            return await SaveRunAsync(new SeriesRun
            {
                Date = date, State = SeriesRunState.Skipped, Error = $"the series is paused: {State.PauseReason}",
                StartedAt = time.GetUtcNow(), FinishedAt = time.GetUtcNow(),
            });
        }

        SeriesRun run = await SaveRunAsync(new SeriesRun { Date = date, State = SeriesRunState.Running, StartedAt = time.GetUtcNow() });
        StartDeciding(date);
        return run;
    }

    public async Task<IReadOnlyList<SeriesRun>> RunsAsync(int max)
    {
        if (State.Runs.Count > 0 && !State.Runs[^1].IsFinished)
        {
            await RefreshAsync(State.Runs[^1]);
        }

        return State.Runs.AsEnumerable().Reverse().Take(Math.Clamp(max, 1, RunsKept)).ToList();
    }

    public async Task JobFinishedAsync(BundleJobStatus status)
    {
        SeriesRun? run = State.Runs.Find(r => r.JobId == status.JobId);
        if (run is not null && !run.IsFinished)
        {
            await FinishAsync(run, status);
        }
    }

    /// <summary>A running run's latest: its job's status if it has one; a run whose decision was lost (a restarted silo) decides again.</summary>
    private async Task<SeriesRun> RefreshAsync(SeriesRun run)
    {
        if (run.IsFinished)
        {
            return run;
        }

        if (run.JobId is null)
        {
            if (!_deciding.ContainsKey(run.Date))
            {
                StartDeciding(run.Date);
            }

            return run;
        }

        BundleJobStatus status = await GrainFactory.GetGrain<IBundleJobGrain>(run.JobId).GetStatusAsync();
        return status.IsFinished ? await FinishAsync(run, status) : run;
    }

    private void StartDeciding(string date)
    {
        // Runs on this activation's scheduler between calls; the image is read on the thread pool.
        _deciding[date] = DecideAsync(date).ContinueWith(_ => _deciding.Remove(date), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Current);
    }

    /// <summary>Unchanged since the last success (recorded as such, nothing written), or the night's job submitted.</summary>
    private async Task DecideAsync(string date)
    {
        SeriesDefinition definition = State.Definition!;
        SeriesSuccess? last = State.LastSuccess;
        try
        {
            ImageLook look = await Task.Run(() => LookAtImageAsync(definition, last));
            SeriesRun current = State.Runs.Find(r => r.Date == date)!;
            if (look.Unchanged)
            {
                LogUnchanged(logger, Key, date, look.How);
                await FinishRunAsync(current with
                {
                    State = SeriesRunState.Unchanged, Manifest = last!.Manifest, ImageVersion = look.Version, FinishedAt = time.GetUtcNow(),
                }, success: last with { Date = date, ImageVersion = look.Version! });
                return;
            }

            BundleJobSpec template = definition.Template;
            BundleJobSpec spec = definition.JobFor(date) with
            {
                Baseline = last?.Manifest ?? template.Baseline, // a new series may start from a bundle made before it
                Series = Key,
                CreateDestination = true,
                Labels = new Dictionary<string, string>(template.Labels ?? new Dictionary<string, string>()) { ["series"] = Name, ["date"] = date },
            };
            string jobId = JobIds.ForKey(Tenant, JobIds.NightlyKey(Name, date));
            await SaveRunAsync(current with { JobId = jobId, ImageVersion = look.Version, ImageMtime = look.MtimeUnixSeconds });
            BundleJobStatus status = await GrainFactory.GetGrain<IBundleJobGrain>(jobId).StartAsync(spec);
            if (status.IsFinished)
            {
                await FinishAsync(State.Runs.Find(r => r.Date == date)!, status);
            }
        }
        catch (Exception ex)
        {
            LogDecisionFailed(logger, ex, Key, date);
            SeriesRun current = State.Runs.Find(r => r.Date == date)!;
            if (!current.IsFinished && current.JobId is null)
            {
                await FinishRunAsync(current with { State = SeriesRunState.Failed, Error = ex.UserMessage(), FinishedAt = time.GetUtcNow() }, success: null);
            }
        }
    }

    private sealed record ImageLook(bool Unchanged, string? Version, long MtimeUnixSeconds, string How);

    /// <summary>The image's version, and whether it is unchanged since <paramref name="last"/> by the series' check.</summary>
    private async Task<ImageLook> LookAtImageAsync(SeriesDefinition definition, SeriesSuccess? last)
    {
        BundleClusterOptions opts = options.Value;
        BundleJobSpec spec = JobPreparation.WithIdentity(definition.Template with { S3 = definition.Template.S3 ?? opts.DefaultS3 }, opts);
        OpenedImage opened;
        try
        {
            opened = await JobPreparation.OpenConfinedImageAsync(spec, opts, CancellationToken.None);
        }
        catch (Exception)
        {
            return new ImageLook(false, null, 0, "unreadable"); // the job says why, in its own words
        }

        await using (opened.Reader)
        {
            UnchangedCheck check = definition.UnchangedCheckFor(StorageLocation.From(spec.ImagePath) is Storage.S3.S3Location);
            if (last is null || check == UnchangedCheck.Off)
            {
                return new ImageLook(false, opened.Version, opened.MtimeUnixSeconds, "no check");
            }

            try
            {
                // The last bundle must still be there, whole and ours: opening it as a baseline checks all of that.
                (Format.Unbundling.IPartSource source, string manifest) = ManifestLocation.Open(last.Manifest, PlanExtensions.Settings(spec.S3));
                using X509Certificate2 certificate = KeyFiles.LoadCertificate(spec.UserCertificatePath, "user certificate",
                    f => AllowedRoots.RequireOpened(f, opts.KeyFileRoots(), "user certificate"));
                using RSA privateKey = KeyFiles.LoadPrivateKey(spec.PrivateKeyPath, f => AllowedRoots.RequireOpened(f, opts.KeyFileRoots(), "private key"));
                using BaselineBundle bundle = await BaselineBundle.OpenAsync(source, manifest, certificate, privateKey, spec.SliceSize,
                    spec.CompressionLevel, CancellationToken.None);
                if (check == UnchangedCheck.Metadata)
                {
                    return new ImageLook(opened.Version == last.ImageVersion, opened.Version, opened.MtimeUnixSeconds, "metadata");
                }

                // Framed as last time (same member name and mtime): equal slices mean equal image bytes.
                var layout = new TarStreamLayout(last.MemberName, opened.Reader.Length, last.ImageMtimeUnixSeconds);
                bool same = await UnchangedImage.MatchesAsync(layout, opened.Reader, bundle.Index, CancellationToken.None);
                return new ImageLook(same, opened.Version, same ? last.ImageMtimeUnixSeconds : opened.MtimeUnixSeconds, "content");
            }
            catch (Exception ex)
            {
                LogLastBundleUnusable(logger, ex, Key, last.Manifest);
                return new ImageLook(false, opened.Version, opened.MtimeUnixSeconds, "last bundle unusable");
            }
        }
    }

    /// <summary>
    /// A run's job ended: a success moves the baseline on and clears the failures; a failure may pause the series. Both
    /// the job's report and the series' own look may get here first; the run is finished once.
    /// </summary>
    private Task<SeriesRun> FinishAsync(SeriesRun run, BundleJobStatus status)
    {
        if (State.Runs.Find(r => r.Date == run.Date) is { IsFinished: true } already)
        {
            return Task.FromResult(already);
        }

        bool completed = status.State == BundleJobState.Completed;
        SeriesRun finished = run with
        {
            State = completed ? SeriesRunState.Completed : SeriesRunState.Failed,
            Manifest = status.ManifestPath,
            SlicesReused = status.SlicesReused,
            SlicesCompressed = status.SlicesCompressed,
            Warnings = status.Warnings,
            Error = completed ? null : status.Error ?? status.State.ToString(),
            FinishedAt = status.FinishedAt ?? time.GetUtcNow(),
        };
        return FinishRunAsync(finished, completed && status.ManifestPath is { } manifest && run.ImageVersion is { } version && status.Prefix is { } member
            ? new SeriesSuccess(run.Date, manifest, version, run.ImageMtime, member)
            : null);
    }

    private async Task<SeriesRun> FinishRunAsync(SeriesRun finished, SeriesSuccess? success)
    {
        if (finished.Succeeded)
        {
            State.ConsecutiveFailures = 0;
            if (success is not null && string.CompareOrdinal(success.Date, State.LastSuccess?.Date) >= 0)
            {
                State.LastSuccess = success;
            }
        }
        else if (finished.State == SeriesRunState.Failed)
        {
            State.ConsecutiveFailures++;
            int limit = State.Definition!.MaxConsecutiveFailures;
            if (!State.Paused && limit > 0 && State.ConsecutiveFailures >= limit)
            {
                State.Paused = true;
                State.PauseReason = $"paused itself after {State.ConsecutiveFailures} failed runs in a row (the last, {finished.Date}: {finished.Error}); resume it to run again";
                metrics.SeriesPaused.Add(1);
                LogPaused(logger, Key, State.ConsecutiveFailures, finished.Error);
            }
        }

        return await SaveRunAsync(finished);
    }

    private async Task<SeriesRun> SaveRunAsync(SeriesRun run)
    {
        int at = State.Runs.FindIndex(r => r.Date == run.Date);
        if (at >= 0)
        {
            State.Runs[at] = run;
        }
        else
        {
            State.Runs.Add(run);
            State.Runs.Sort((a, b) => string.CompareOrdinal(a.Date, b.Date));
            if (State.Runs.Count > RunsKept)
            {
                State.Runs.RemoveRange(0, State.Runs.Count - RunsKept);
            }
        }

        await WriteAsync();
        return run;
    }

    private Task WriteAsync() => _writes = WriteAfterAsync(_writes);

    private async Task WriteAfterAsync(Task previous)
    {
        try
        {
            await previous;
        }
        catch (Exception)
        {
            // that write's caller has seen its failure; this one writes the state as it is now
        }

        await record.WriteStateAsync();
    }

    private SeriesStatus Status() => new()
    {
        Name = Name,
        Tenant = Tenant.Length == 0 ? null : Tenant,
        Definition = State.Definition,
        Paused = State.Paused,
        PauseReason = State.PauseReason,
        ConsecutiveFailures = State.ConsecutiveFailures,
        LastSuccess = State.LastSuccess,
        LastRun = State.Runs.Count == 0 ? null : State.Runs[^1],
        Runs = State.Runs.Count,
    };

    private void RequireExists()
    {
        if (State.Definition is null)
        {
            throw new KeyNotFoundException($"series '{Name}' does not exist");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Series {Series}: the image of {Date} is unchanged ({How}); no job")]
    private static partial void LogUnchanged(ILogger logger, string series, string date, string how);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Series {Series}: the run of {Date} could not be started")]
    private static partial void LogDecisionFailed(ILogger logger, Exception ex, string series, string date);

    [LoggerMessage(Level = LogLevel.Information, Message = "Series {Series}: the last bundle {Manifest} cannot be compared with; bundling")]
    private static partial void LogLastBundleUnusable(ILogger logger, Exception ex, string series, string manifest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Series {Series} paused itself after {Failures} failed runs in a row: {Error}")]
    private static partial void LogPaused(ILogger logger, string series, int failures, string? error);
}
