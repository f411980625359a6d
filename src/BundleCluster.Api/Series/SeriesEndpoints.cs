using System.Security.Claims;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Series;
using BundleCluster.Api.Auth;
using BundleCluster.Api.Jobs;
using BundleCluster.Api.Tenants;
using BundleCluster.Client.Service;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace BundleCluster.Api.Series;

/// <summary>
/// <c>/v1/series</c>: a tenant's nightly builds — define, list, show, pause, resume, run a date, list runs. Series are
/// per tenant (another tenant's series of the same name is another series); a run of a date is one job however often
/// it is asked for (idempotency key <c>nightly/NAME/DATE</c>).
/// </summary>
internal static class SeriesEndpoints
{
    private const string SampleDate = "2000-01-01";

    public static IEndpointRouteBuilder MapSeriesEndpoints(this IEndpointRouteBuilder app)
    {
        RouteGroupBuilder series = app.MapGroup("/v1/series").RequireAuthorization(BearerTokens.JobsPolicy).WithTags("series");
        series.MapGet("", ListAsync).WithName("ListSeries").WithSummary("The tenant's series");
        series.MapPut("/{name}", PutAsync).WithName("PutSeries").WithSummary("Create a series or replace its definition")
            .Accepts<ServiceSeriesRequest>("application/json");
        series.MapGet("/{name}", GetAsync).WithName("GetSeries").WithSummary("A series: definition, pause state, last success, last run");
        series.MapPost("/{name}:pause", PauseAsync).WithName("PauseSeries").WithSummary("Pause a series: its runs are skipped");
        series.MapPost("/{name}:resume", ResumeAsync).WithName("ResumeSeries").WithSummary("Resume a paused series and clear its failures");
        series.MapGet("/{name}/runs", RunsAsync).WithName("ListSeriesRuns").WithSummary("A series' runs, newest first");
        series.MapPost("/{name}/runs", RunAsync).WithName("RunSeries").WithSummary("Run a series for a date (once per date)")
            .Accepts<ServiceRunRequest>("application/json");
        series.MapGet("/{name}/runs/{date}", GetRunAsync).WithName("GetSeriesRun").WithSummary("The run of a date");
        return app;
    }

    /// <summary>A name is one path segment of safe characters: it is part of grain keys, job ids and labels.</summary>
    private static ProblemHttpResult? NameProblem(string name) =>
        name.Length is >= 1 and <= 64 && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '.') && name is not ("." or "..")
            ? null
            : Problems.BadRequest($"'{name}' is not a series name (1-64 of a-z, 0-9, '-', '_', '.')", "name");

    private static ISeriesGrain Grain(IGrainFactory grains, Tenant tenant, string name) => grains.GetGrain<ISeriesGrain>($"{tenant.Name}/{name}");

    private static ProblemHttpResult NotFound(string name) => Problems.Of(StatusCodes.Status404NotFound, "Not found", $"no series '{name}'");

    private static async Task<Results<Ok<SeriesView>, ProblemHttpResult>> PutAsync(string name, HttpRequest request, ClaimsPrincipal user,
        TenantDirectory tenants, IGrainFactory grains, IOptions<ApiOptions> options, CancellationToken ct)
    {
        if (tenants.TenantOf(user) is not { } tenant)
        {
            return JobEndpoints.NoTenant(tenants, user);
        }

        if (NameProblem(name) is { } badName)
        {
            return badName;
        }

        (ServiceSeriesRequest? body, ProblemHttpResult? unreadable) =
            await JobEndpoints.ReadBodyAsync<ServiceSeriesRequest>(request, options.Value.MaxBodyBytes, "a series request", ct);
        if (unreadable is not null)
        {
            return unreadable;
        }

        if (body!.Job is not { } job)
        {
            return Problems.BadRequest("job is required: the job request each run submits", "job");
        }

        string destination = job.Destination ?? "";
        if (!destination.Contains(SeriesDefinition.DatePlaceholder, StringComparison.Ordinal)
            && job.Prefix?.Contains(SeriesDefinition.DatePlaceholder, StringComparison.Ordinal) != true)
        {
            return Problems.Unprocessable("the destination or the prefix must hold {date}: each night's bundle goes to its own place", "destination");
        }

        if (body.MaxConsecutiveFailures is < 0 or > 1000)
        {
            return Problems.Unprocessable($"maxConsecutiveFailures {body.MaxConsecutiveFailures} is not 0-1000", "maxConsecutiveFailures");
        }

        // Checked as a night would see it, with the same rules as a job; the template keeps {date}.
        ServiceJobRequest sample = job with
        {
            Destination = destination.Replace(SeriesDefinition.DatePlaceholder, SampleDate, StringComparison.Ordinal),
            Prefix = job.Prefix?.Replace(SeriesDefinition.DatePlaceholder, SampleDate, StringComparison.Ordinal),
        };
        (BundleJobSpec? checkedSpec, ProblemHttpResult? refused) = sample.ToSpec(tenant);
        if (refused is not null)
        {
            return refused;
        }

        var definition = new SeriesDefinition
        {
            Template = checkedSpec! with { Destination = destination, Prefix = job.Prefix },
            Unchanged = body.Unchanged,
            MaxConsecutiveFailures = body.MaxConsecutiveFailures ?? SeriesDefinition.DefaultMaxConsecutiveFailures,
        };
        SeriesStatus status = await Grain(grains, tenant, name).PutAsync(definition).WaitAsync(ct);
        return TypedResults.Ok(SeriesView.Of(status));
    }

    private static async Task<Results<Ok<SeriesList>, ProblemHttpResult>> ListAsync(ClaimsPrincipal user, TenantDirectory tenants,
        IGrainFactory grains, CancellationToken ct)
    {
        if (tenants.TenantOf(user) is not { } tenant)
        {
            return JobEndpoints.NoTenant(tenants, user);
        }

        IReadOnlyList<string> names = await grains.GetGrain<ITenantSeriesGrain>(tenant.Name).ListAsync().WaitAsync(ct);
        SeriesStatus[] all = await Task.WhenAll(names.Select(n => Grain(grains, tenant, n).GetAsync().WaitAsync(ct)));
        return TypedResults.Ok(new SeriesList([.. all.Where(s => s.Exists).Select(SeriesView.Of)]));
    }

    private static Task<Results<Ok<SeriesView>, ProblemHttpResult>> GetAsync(string name, ClaimsPrincipal user, TenantDirectory tenants,
        IGrainFactory grains, CancellationToken ct) =>
        OnSeriesAsync(name, user, tenants, grains, g => g.GetAsync(), ct);

    private static Task<Results<Ok<SeriesView>, ProblemHttpResult>> PauseAsync(string name, ClaimsPrincipal user, TenantDirectory tenants,
        IGrainFactory grains, CancellationToken ct) =>
        OnSeriesAsync(name, user, tenants, grains, g => g.PauseAsync($"paused by {tenants.SubjectOf(user) ?? "a caller"}"), ct);

    private static Task<Results<Ok<SeriesView>, ProblemHttpResult>> ResumeAsync(string name, ClaimsPrincipal user, TenantDirectory tenants,
        IGrainFactory grains, CancellationToken ct) =>
        OnSeriesAsync(name, user, tenants, grains, g => g.ResumeAsync(), ct);

    /// <summary>One call on an existing series of the caller's tenant, answered as the series now is.</summary>
    private static async Task<Results<Ok<SeriesView>, ProblemHttpResult>> OnSeriesAsync(string name, ClaimsPrincipal user,
        TenantDirectory tenants, IGrainFactory grains, Func<ISeriesGrain, Task<SeriesStatus>> call, CancellationToken ct)
    {
        if (tenants.TenantOf(user) is not { } tenant)
        {
            return JobEndpoints.NoTenant(tenants, user);
        }

        if (NameProblem(name) is { } badName)
        {
            return badName;
        }

        ISeriesGrain series = Grain(grains, tenant, name);
        if (!(await series.GetAsync().WaitAsync(ct)).Exists)
        {
            return NotFound(name);
        }

        return TypedResults.Ok(SeriesView.Of(await call(series).WaitAsync(ct)));
    }

    private static async Task<Results<Ok<RunList>, ProblemHttpResult>> RunsAsync(string name, int? limit, ClaimsPrincipal user,
        TenantDirectory tenants, IGrainFactory grains, CancellationToken ct)
    {
        if (await ExistingAsync(name, user, tenants, grains, ct) is not { } series)
        {
            return await WhyNotAsync(name, user, tenants);
        }

        IReadOnlyList<SeriesRun> runs = await series.RunsAsync(Math.Clamp(limit ?? 30, 1, 400)).WaitAsync(ct);
        return TypedResults.Ok(new RunList([.. runs.Select(RunView.Of)]));
    }

    private static async Task<Results<Ok<RunView>, ProblemHttpResult>> GetRunAsync(string name, string date, ClaimsPrincipal user,
        TenantDirectory tenants, IGrainFactory grains, CancellationToken ct)
    {
        if (await ExistingAsync(name, user, tenants, grains, ct) is not { } series)
        {
            return await WhyNotAsync(name, user, tenants);
        }

        IReadOnlyList<SeriesRun> runs = await series.RunsAsync(400).WaitAsync(ct);
        return runs.FirstOrDefault(r => r.Date == date) is { } run
            ? TypedResults.Ok(RunView.Of(run))
            : Problems.Of(StatusCodes.Status404NotFound, "Not found", $"series '{name}' has no run of '{date}'");
    }

    private static async Task<Results<Accepted<RunView>, ProblemHttpResult>> RunAsync(string name, HttpRequest request, ClaimsPrincipal user,
        TenantDirectory tenants, IGrainFactory grains, IOptions<ApiOptions> options, CancellationToken ct)
    {
        if (await ExistingAsync(name, user, tenants, grains, ct) is not { } series)
        {
            return await WhyNotAsync(name, user, tenants);
        }

        (ServiceRunRequest? body, ProblemHttpResult? unreadable) =
            await JobEndpoints.ReadBodyAsync<ServiceRunRequest>(request, options.Value.MaxBodyBytes, "a run request", ct);
        if (unreadable is not null)
        {
            return unreadable;
        }

        string date;
        try
        {
            date = SeriesDefinition.RequireDate(body!.Date ?? "");
        }
        catch (ArgumentException ex)
        {
            return Problems.BadRequest(ex.Message.Split(" (Parameter", 2)[0], "date");
        }

        // The key is fixed by the series and the date; a caller that sends one must send that one.
        string? key = request.Headers[JobEndpoints.IdempotencyHeader];
        if (key is not null && key != JobIds.NightlyKey(name, date))
        {
            return Problems.Unprocessable($"a run's Idempotency-Key is {JobIds.NightlyKey(name, date)}", JobEndpoints.IdempotencyHeader);
        }

        SeriesRun run = await series.RunAsync(date).WaitAsync(ct);
        return TypedResults.Accepted($"/v1/series/{name}/runs/{date}", RunView.Of(run));
    }

    private static async Task<ISeriesGrain?> ExistingAsync(string name, ClaimsPrincipal user, TenantDirectory tenants, IGrainFactory grains,
        CancellationToken ct)
    {
        if (tenants.TenantOf(user) is not { } tenant || NameProblem(name) is not null)
        {
            return null;
        }

        ISeriesGrain series = Grain(grains, tenant, name);
        return (await series.GetAsync().WaitAsync(ct)).Exists ? series : null;
    }

    /// <summary>The problem for a series <see cref="ExistingAsync"/> did not find: no tenant, a bad name, or none such.</summary>
    private static Task<ProblemHttpResult> WhyNotAsync(string name, ClaimsPrincipal user, TenantDirectory tenants) =>
        Task.FromResult(tenants.TenantOf(user) is null ? JobEndpoints.NoTenant(tenants, user) : NameProblem(name) ?? NotFound(name));
}
