using System.Globalization;
using BundleCluster.Abstractions.Jobs;
using Orleans.Concurrency;

namespace BundleCluster.Abstractions.Series;

/// <summary>How a run finds out that its image has not changed since the series' last success.</summary>
public enum UnchangedCheck
{
    /// <summary>Never skip: every run bundles (incrementally, from the last success).</summary>
    Off,

    /// <summary>The image's version: an S3 object's ETag, a file's device, inode, size and mtime.</summary>
    Metadata,

    /// <summary>The image's bytes, hashed slice by slice against the last bundle's signed slice index (no compression, no upload).</summary>
    Content,
}

/// <summary>
/// A nightly build: a job template whose destination names the night (<c>{date}</c>, as yyyy-MM-dd), how to tell an
/// unchanged image, and how many failed runs in a row pause it.
/// </summary>
[GenerateSerializer, Immutable, Alias("bc.SeriesDefinition")]
public sealed record SeriesDefinition
{
    public const string DatePlaceholder = "{date}";

    public const int DefaultMaxConsecutiveFailures = 3;

    /// <summary>The job each run submits; its <see cref="BundleJobSpec.Destination"/> holds <see cref="DatePlaceholder"/>.</summary>
    [Id(0)] public required BundleJobSpec Template { get; init; }

    /// <summary>null: <see cref="UnchangedCheck.Content"/> for files, <see cref="UnchangedCheck.Metadata"/> for s3:// images.</summary>
    [Id(1)] public UnchangedCheck? Unchanged { get; init; }

    [Id(2)] public int MaxConsecutiveFailures { get; init; } = DefaultMaxConsecutiveFailures;

    /// <summary>The job of the run of <paramref name="date"/>: <see cref="DatePlaceholder"/> in destination and prefix filled in.</summary>
    public BundleJobSpec JobFor(string date) => Template with
    {
        Destination = Template.Destination.Replace(DatePlaceholder, date, StringComparison.Ordinal),
        Prefix = Template.Prefix?.Replace(DatePlaceholder, date, StringComparison.Ordinal),
    };

    /// <summary>A date as yyyy-MM-dd, and a real one: it becomes part of a destination and of a job's idempotency key.</summary>
    public static string RequireDate(string date) =>
        DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly parsed)
            ? parsed.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)
            : throw new ArgumentException($"'{date}' is not a date (yyyy-MM-dd)", nameof(date));

    public UnchangedCheck UnchangedCheckFor(bool s3Image) => Unchanged ?? (s3Image ? UnchangedCheck.Metadata : UnchangedCheck.Content);
}

/// <summary>What a run came to.</summary>
public enum SeriesRunState
{
    /// <summary>Its job is queued or running.</summary>
    Running,

    /// <summary>Its job made a bundle.</summary>
    Completed,

    /// <summary>The image had not changed since the last success: no job, nothing written; <see cref="SeriesRun.Manifest"/> is that bundle.</summary>
    Unchanged,

    /// <summary>Its job failed or was cancelled (<see cref="SeriesRun.Error"/>).</summary>
    Failed,

    /// <summary>The series was paused: nothing was done.</summary>
    Skipped,
}

/// <summary>One night of a series.</summary>
[GenerateSerializer, Immutable, Alias("bc.SeriesRun")]
public sealed record SeriesRun
{
    /// <summary>The scheduled date, yyyy-MM-dd: a series runs once per date.</summary>
    [Id(0)] public required string Date { get; init; }

    [Id(1)] public SeriesRunState State { get; init; }

    /// <summary>The run's job (its idempotency key is <c>nightly/SERIES/DATE</c>); null for an unchanged or skipped run.</summary>
    [Id(2)] public string? JobId { get; init; }

    /// <summary>The bundle this run stands for: the new one, or for an unchanged run the last success's.</summary>
    [Id(3)] public string? Manifest { get; init; }

    /// <summary>The image version the run saw.</summary>
    [Id(4)] public string? ImageVersion { get; init; }

    [Id(5)] public int SlicesReused { get; init; }

    [Id(6)] public int SlicesCompressed { get; init; }

    [Id(7)] public string? Error { get; init; }

    [Id(8)] public DateTimeOffset StartedAt { get; init; }

    [Id(9)] public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>Warnings of the run's job (a baseline it did not use).</summary>
    [Id(10)] public IReadOnlyList<string>? Warnings { get; init; }

    /// <summary>The image's mtime the run saw (the tar header's): what a later content check frames the image with.</summary>
    [Id(11)] public long ImageMtime { get; init; }

    public bool IsFinished => State != SeriesRunState.Running;

    public bool Succeeded => State is SeriesRunState.Completed or SeriesRunState.Unchanged;
}

/// <summary>The last run that made or confirmed a bundle: the next run's baseline and what "unchanged" compares with.</summary>
[GenerateSerializer, Immutable, Alias("bc.SeriesSuccess")]
public sealed record SeriesSuccess(
    [property: Id(0)] string Date,
    [property: Id(1)] string Manifest,
    [property: Id(2)] string ImageVersion,
    [property: Id(3)] long ImageMtimeUnixSeconds,
    [property: Id(4)] string MemberName);

/// <summary>A series as the service keeps it.</summary>
[GenerateSerializer, Immutable, Alias("bc.SeriesStatus")]
public sealed record SeriesStatus
{
    [Id(0)] public required string Name { get; init; }

    [Id(1)] public string? Tenant { get; init; }

    [Id(2)] public SeriesDefinition? Definition { get; init; }

    [Id(3)] public bool Paused { get; init; }

    /// <summary>Why it is paused: by whom, or after how many failed runs and the last error.</summary>
    [Id(4)] public string? PauseReason { get; init; }

    [Id(5)] public int ConsecutiveFailures { get; init; }

    [Id(6)] public SeriesSuccess? LastSuccess { get; init; }

    [Id(7)] public SeriesRun? LastRun { get; init; }

    [Id(8)] public int Runs { get; init; }

    public bool Exists => Definition is not null;
}

/// <summary>
/// A series (key: <c>TENANT/NAME</c>, or <c>/NAME</c> inside the cluster's trust boundary): its definition, its runs
/// (one per date), its last success and its consecutive failures. A run submits a job with the idempotency key
/// <c>nightly/NAME/DATE</c>, so the same date run twice — a CronJob that fired twice, a retried pod — is one job.
/// </summary>
[Alias("bc.ISeriesGrain")]
public interface ISeriesGrain : IGrainWithStringKey
{
    /// <summary>Creates the series or replaces its definition (its runs, last success and pause state stay).</summary>
    [Alias("Put")]
    Task<SeriesStatus> PutAsync(SeriesDefinition definition);

    [Alias("Get")]
    Task<SeriesStatus> GetAsync();

    [Alias("Pause")]
    Task<SeriesStatus> PauseAsync(string reason);

    /// <summary>Resumes a paused series and clears its failure count.</summary>
    [Alias("Resume")]
    Task<SeriesStatus> ResumeAsync();

    /// <summary>Runs the series for <paramref name="scheduledDate"/> (yyyy-MM-dd) — or answers the run of that date if there is one.</summary>
    [Alias("Run")]
    Task<SeriesRun> RunAsync(string scheduledDate);

    /// <summary>The runs, newest first.</summary>
    [Alias("Runs")]
    Task<IReadOnlyList<SeriesRun>> RunsAsync(int max);

    /// <summary>A run's job ended (the job grain reports it; the series also looks for itself when asked).</summary>
    [Alias("JobFinished"), OneWay]
    Task JobFinishedAsync(BundleJobStatus status);
}

/// <summary>The series of one tenant (key: tenant, "" for the cluster's own), by name.</summary>
[Alias("bc.ITenantSeriesGrain")]
public interface ITenantSeriesGrain : IGrainWithStringKey
{
    [Alias("Add")]
    Task AddAsync(string name);

    [Alias("List")]
    Task<IReadOnlyList<string>> ListAsync();
}
