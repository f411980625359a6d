using BundleCluster.Abstractions.Series;

namespace BundleCluster.Client.Service;

/// <summary>
/// The body of bundle-api's <c>PUT /v1/series/{name}</c>: the job every run submits — its <c>destination</c> (or
/// <c>prefix</c>) holds <c>{date}</c>, the run's yyyy-MM-dd — how a run tells an unchanged image
/// (<c>content</c>, <c>metadata</c> or <c>off</c>; default content for files, metadata for s3://), and after how many
/// failed runs in a row the series pauses itself (default 3; 0 never).
/// </summary>
public sealed record ServiceSeriesRequest
{
    public ServiceJobRequest? Job { get; init; }

    public UnchangedCheck? Unchanged { get; init; }

    public int? MaxConsecutiveFailures { get; init; }
}

/// <summary>The body of <c>POST /v1/series/{name}/runs</c>.</summary>
public sealed record ServiceRunRequest
{
    /// <summary>The scheduled date, yyyy-MM-dd.</summary>
    public string? Date { get; init; }
}

/// <summary>A series as bundle-api shows it.</summary>
public sealed record SeriesView(
    string Name,
    bool Paused,
    string? PauseReason,
    int ConsecutiveFailures,
    int MaxConsecutiveFailures,
    UnchangedCheck? Unchanged,
    string Image,
    string Destination,
    string? Identity,
    int Level,
    IReadOnlyDictionary<string, string>? Labels,
    SeriesSuccess? LastSuccess,
    RunView? LastRun,
    int Runs)
{
    public static SeriesView Of(SeriesStatus s) => new(
        s.Name, s.Paused, s.PauseReason, s.ConsecutiveFailures, s.Definition!.MaxConsecutiveFailures, s.Definition.Unchanged,
        s.Definition.Template.ImagePath, s.Definition.Template.Destination, s.Definition.Template.Identity, s.Definition.Template.CompressionLevel,
        s.Definition.Template.Labels, s.LastSuccess, s.LastRun is null ? null : RunView.Of(s.LastRun), s.Runs);
}

/// <summary>One run of a series as bundle-api shows it.</summary>
public sealed record RunView(
    string Date,
    SeriesRunState State,
    string? JobId,
    string? Manifest,
    int SlicesReused,
    int SlicesCompressed,
    string? Error,
    IReadOnlyList<string>? Warnings,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt)
{
    public static RunView Of(SeriesRun r) =>
        new(r.Date, r.State, r.JobId, r.Manifest, r.SlicesReused, r.SlicesCompressed, r.Error, r.Warnings, r.StartedAt, r.FinishedAt);

    public bool IsFinished => State != SeriesRunState.Running;

    public bool Succeeded => State is SeriesRunState.Completed or SeriesRunState.Unchanged;
}

/// <summary><c>GET /v1/series</c>.</summary>
public sealed record SeriesList(IReadOnlyList<SeriesView> Series);

/// <summary><c>GET /v1/series/{name}/runs</c>: newest first.</summary>
public sealed record RunList(IReadOnlyList<RunView> Runs);
