using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text.Json;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Api.Auth;
using BundleCluster.Api.Tenants;
using BundleCluster.Client;
using BundleCluster.Client.Service;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace BundleCluster.Api.Jobs;

/// <summary>
/// <c>/v1/jobs</c>: submit, read, list, cancel and follow a tenant's jobs, and <c>/v1/scale</c>. Every job is looked
/// at through its tenant: another tenant's job id answers 404, exactly like an id that does not exist.
/// </summary>
internal static class JobEndpoints
{
    public const string IdempotencyHeader = "Idempotency-Key";

    /// <summary>How often a job's SSE stream reads its status.</summary>
    private static readonly TimeSpan EventPoll = TimeSpan.FromMilliseconds(250);

    /// <summary>Silo-side field names (the spec's) as a request spells them.</summary>
    private static readonly Dictionary<string, string> RequestFields = new()
    {
        ["user"] = "account",
        ["architecture"] = "arch",
        ["compressionLevel"] = "level",
        ["userCertificate"] = "identity",
        ["cloudCertificate"] = "identity",
        ["privateKey"] = "identity",
        ["idempotencyKey"] = IdempotencyHeader,
    };

    public static IEndpointRouteBuilder MapJobEndpoints(this IEndpointRouteBuilder app)
    {
        RouteGroupBuilder jobs = app.MapGroup("/v1/jobs").RequireAuthorization(BearerTokens.JobsPolicy).WithTags("jobs");
        jobs.MapPost("", SubmitAsync).WithName("SubmitJob").WithSummary("Submit a bundle job")
            .Accepts<ServiceJobRequest>("application/json").Produces<JobView>(StatusCodes.Status202Accepted);
        jobs.MapGet("", ListAsync).WithName("ListJobs").WithSummary("The tenant's jobs, newest first, paged");
        jobs.MapGet("/{id}", GetAsync).WithName("GetJob").WithSummary("A job's state, progress and outcome");
        jobs.MapPost("/{id}:cancel", CancelAsync).WithName("CancelJob").WithSummary("Cancel a queued or running job");
        jobs.MapGet("/{id}/events", Events).WithName("JobEvents")
            .WithSummary("Server-Sent Events: a status event on every change, then a final event");
        app.MapGet("/v1/scale", ScaleAsync).RequireAuthorization(BearerTokens.ScalePolicy).WithName("Scale").WithTags("scale")
            .WithSummary("The autoscaling signal: numbers only, no tenant data");
        return app;
    }

    private static async Task<Results<Accepted<JobView>, ProblemHttpResult>> SubmitAsync(
        HttpRequest request, ClaimsPrincipal user, TenantDirectory tenants, BundleClusterClient client, IOptions<ApiOptions> options,
        CancellationToken ct)
    {
        if (tenants.TenantOf(user) is not { } tenant)
        {
            return NoTenant(tenants, user);
        }

        (ServiceJobRequest? job, ProblemHttpResult? unreadable) = await ReadBodyAsync<ServiceJobRequest>(request, options.Value.MaxBodyBytes, "a job request", ct);
        if (unreadable is not null)
        {
            return unreadable;
        }

        (BundleJobSpec? spec, ProblemHttpResult? refused) = job!.ToSpec(tenant);
        if (refused is not null)
        {
            return refused;
        }

        string? key = request.Headers[IdempotencyHeader];
        if (key is not null && (key.Length is 0 or > 256 || key.Any(char.IsControl)))
        {
            return Problems.BadRequest("Idempotency-Key must be 1-256 characters without control characters", IdempotencyHeader);
        }

        string id = key is null ? Guid.NewGuid().ToString("N") : JobRequestRules.JobIdFor(tenant.Name, key);
        // One call: the job's status as the submit left it (or as an earlier request under this key did).
        BundleJobStatus status = await client.StartAsync(spec!, id, ct);
        if (!SameRequest(status, spec!))
        {
            return DifferentRequest();
        }

        if (status.State == BundleJobState.Failed && status.ErrorField is not null)
        {
            return Problems.Unprocessable(status.Error ?? "invalid job", RequestFields.GetValueOrDefault(status.ErrorField, status.ErrorField));
        }

        if (status.ErrorKind == JobErrorKind.QuotaExceeded)
        {
            return Problems.Of(StatusCodes.Status429TooManyRequests, "Too many jobs", status.Error ?? "the tenant's queue is full");
        }

        return TypedResults.Accepted($"/v1/jobs/{id}", JobView.Of(status));
    }

    private static bool SameRequest(BundleJobStatus existing, BundleJobSpec spec) => existing.RequestFingerprint == spec.RequestFingerprint;

    /// <summary>The same idempotency key with another request: 422, naming the header.</summary>
    private static ProblemHttpResult DifferentRequest() =>
        Problems.Unprocessable("this Idempotency-Key was used for a different request; use a new key for a new job", IdempotencyHeader);

    /// <summary>A JSON body of at most <paramref name="maxBytes"/>, strictly read (<paramref name="what"/> names it in errors).</summary>
    internal static async Task<(T? Body, ProblemHttpResult? Problem)> ReadBodyAsync<T>(HttpRequest request, int maxBytes, string what, CancellationToken ct)
        where T : class
    {
        if (!request.HasJsonContentType())
        {
            return (null, Problems.BadRequest("the body must be JSON (Content-Type: application/json)", "body"));
        }

        if (request.ContentLength > maxBytes)
        {
            return (null, Problems.BadRequest($"the body is {request.ContentLength} bytes; at most {maxBytes}", "body"));
        }

        // Read at most one byte more than allowed, whatever Content-Length said (a chunked body has none).
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > maxBytes)
            {
                return (null, Problems.BadRequest($"the body is larger than {maxBytes} bytes", "body"));
            }
        }

        try
        {
            T? body = JsonSerializer.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), JobRequestRules.Json);
            return body is null ? (null, Problems.BadRequest("the body must be a JSON object", "body")) : (body, null);
        }
        catch (JsonException ex)
        {
            string field = FieldOf(ex);
            string detail = ex.Message.StartsWith(UnknownProperty, StringComparison.Ordinal) ? $"'{field}' is not a field of {what}"
                : ex.Message.Contains("could not be converted", StringComparison.Ordinal) ? $"'{field}' has the wrong type of value"
                : "the body is not valid JSON";
            field = detail.StartsWith("the body", StringComparison.Ordinal) ? "body" : field;
            return (null, Problems.BadRequest(detail, field));
        }
    }

    /// <summary>The request field a JSON error is about: the last name in its path, or the unknown property's name.</summary>
    private static string FieldOf(JsonException ex)
    {
        // An unknown property is reported at its parent's path; its name is in the message, quoted.
        if (ex.Message.StartsWith(UnknownProperty, StringComparison.Ordinal))
        {
            int start = UnknownProperty.Length;
            int end = ex.Message.IndexOf('\'', start);
            if (end > start)
            {
                return ex.Message[start..end];
            }
        }

        string path = ex.Path ?? "$";
        return path == "$" ? "body" : path.TrimStart('$', '.').Split('.', '[')[0];
    }

    /// <summary>How System.Text.Json begins the message for a property the type does not have.</summary>
    private const string UnknownProperty = "The JSON property '";

    private static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetAsync(
        string id, ClaimsPrincipal user, TenantDirectory tenants, BundleClusterClient client, CancellationToken ct)
    {
        if (tenants.TenantOf(user) is not { } tenant)
        {
            return NoTenant(tenants, user);
        }

        return await OwnedAsync(client, tenant, id, ct) is { } status ? TypedResults.Ok(JobView.Of(status)) : Problems.NotFound(id);
    }

    private static async Task<Results<Ok<JobView>, ProblemHttpResult>> CancelAsync(
        string id, ClaimsPrincipal user, TenantDirectory tenants, BundleClusterClient client, CancellationToken ct)
    {
        if (tenants.TenantOf(user) is not { } tenant)
        {
            return NoTenant(tenants, user);
        }

        if (await OwnedAsync(client, tenant, id, ct) is null)
        {
            return Problems.NotFound(id);
        }

        BundleJobStatus cancelled = await client.CancelAsync(id, $"cancelled through bundle-api by {tenants.SubjectOf(user)}", ct);
        return TypedResults.Ok(JobView.Of(cancelled));
    }

    private static async Task<Results<Ok<JobPage>, ProblemHttpResult>> ListAsync(
        ClaimsPrincipal user, TenantDirectory tenants, BundleClusterClient client, IGrainFactory grains, CancellationToken ct,
        string? state = null, string? label = null, int? limit = null, string? pageToken = null)
    {
        if (tenants.TenantOf(user) is not { } tenant)
        {
            return NoTenant(tenants, user);
        }

        BundleJobState? wanted = null;
        if (state is not null)
        {
            if (!Enum.TryParse(state, ignoreCase: true, out BundleJobState parsed) || !Enum.IsDefined(parsed))
            {
                return Problems.BadRequest($"state '{state}' is not one of {string.Join(", ", Enum.GetNames<BundleJobState>())}", "state");
            }

            wanted = parsed;
        }

        (string Key, string Value)? labelFilter = null;
        if (label is not null)
        {
            string[] pair = label.Split('=', 2);
            if (pair.Length != 2 || pair[0].Length == 0)
            {
                return Problems.BadRequest($"label '{label}' is not KEY=VALUE", "label");
            }

            labelFilter = (pair[0], pair[1]);
        }

        if (limit is < 1 or > 100)
        {
            return Problems.BadRequest($"limit {limit} is not 1-100", "limit");
        }

        long? before = null;
        if (pageToken is not null)
        {
            if (!long.TryParse(pageToken, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long token))
            {
                return Problems.BadRequest("pageToken is not one this service gave out", "pageToken");
            }

            before = token;
        }

        // Walk the tenant's own list newest first, reading statuses a page at a time, until the page is full; a filter
        // that matches little stops after a bounded scan and hands out a token to go on from there.
        int wantedCount = limit ?? 20;
        const int ScanBound = 2000;
        var found = new List<JobView>();
        ITenantJobsGrain index = grains.GetGrain<ITenantJobsGrain>(tenant.Name);
        int scanned = 0;
        long? next = before;
        while (found.Count < wantedCount && scanned < ScanBound)
        {
            IReadOnlyList<TenantJob> page = await index.PageAsync(next, 50).WaitAsync(ct);
            if (page.Count == 0)
            {
                next = null;
                break;
            }

            BundleJobStatus[] statuses = await Task.WhenAll(page.Select(j => client.GetStatusAsync(j.JobId, ct)));
            for (int i = 0; i < page.Count && found.Count < wantedCount; i++)
            {
                scanned++;
                next = page[i].Sequence;
                BundleJobStatus s = statuses[i];
                if ((wanted is null || s.State == wanted)
                    && (labelFilter is not { } lf || (s.Labels?.TryGetValue(lf.Key, out string? v) == true && v == lf.Value)))
                {
                    found.Add(JobView.Of(s));
                }
            }
        }

        bool more = next is { } n && (await index.PageAsync(n, 1).WaitAsync(ct)).Count > 0;
        return TypedResults.Ok(new JobPage(found, more ? next!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture) : null));
    }

    private static async Task<IResult> Events(
        string id, HttpRequest request, ClaimsPrincipal user, TenantDirectory tenants, BundleClusterClient client,
        IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, CancellationToken ct)
    {
        if (tenants.TenantOf(user) is not { } tenant)
        {
            return NoTenant(tenants, user);
        }

        if (await OwnedAsync(client, tenant, id, ct) is null)
        {
            return Problems.NotFound(id);
        }

        string? lastEventId = request.Headers["Last-Event-ID"];
        return TypedResults.ServerSentEvents(StatusEventsAsync(client, id, lastEventId, json.Value.SerializerOptions, ct));
    }

    /// <summary>
    /// The job's status now, then on every change, the last one as a <c>final</c> event. Every event's id names the
    /// state and progress it shows; a client reconnecting with <c>Last-Event-ID</c> gets the current status first
    /// (skipped only if it is the very event the client last saw and the job still runs), so the final state is never
    /// missed.
    /// </summary>
    private static async IAsyncEnumerable<SseItem<string>> StatusEventsAsync(BundleClusterClient client, string id, string? lastEventId,
        JsonSerializerOptions json, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (BundleJobStatus s in client.WatchAsync(id, EventPoll, ct: ct))
        {
            string eventId = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{s.State}.{s.TarBytesDigested}.{s.TarBytesSealed}.{s.PartsWritten}");
            if (eventId == lastEventId && !s.IsFinished)
            {
                continue;
            }

            yield return new SseItem<string>(JsonSerializer.Serialize(JobView.Of(s), json), s.IsFinished ? "final" : "status") { EventId = eventId };
        }
    }

    /// <summary>
    /// The queue's numbers. While no silo answers they are unknown (503: an autoscaler keeps what it has), unless a
    /// submission was refused for want of a silo lately: then one slice of backlog and no silo, so that a cluster
    /// scaled to zero gets a silo (<see cref="RefusedDemand"/>).
    /// </summary>
    private static async Task<Ok<ScaleSignal>> ScaleAsync(IGrainFactory grains, RefusedDemand demand, CancellationToken ct)
    {
        try
        {
            return TypedResults.Ok(await grains.GetGrain<IJobQueueGrain>(0).GetScaleSignalAsync().WaitAsync(TimeSpan.FromSeconds(5), ct));
        }
        catch (Exception ex) when (ClusterUnavailableHandler.MeansUnavailable(ex) && demand.IsRecent)
        {
            return TypedResults.Ok(new ScaleSignal(QueuedJobs: 0, RunningJobs: 0, SlicesPending: 1, ActiveSilos: 0, CompressionSlots: 0, MaxRunningJobs: 0));
        }
    }

    /// <summary>The job if it exists and is the tenant's; null otherwise (the caller answers 404 either way).</summary>
    private static async Task<BundleJobStatus?> OwnedAsync(BundleClusterClient client, Tenant tenant, string id, CancellationToken ct)
    {
        // Ids this service hands out are hex (an idempotency key's digest or a GUID); anything else names no job.
        if (id.Length is 0 or > 64 || !id.All(char.IsAsciiHexDigit))
        {
            return null;
        }

        try
        {
            BundleJobStatus status = await client.GetStatusAsync(id, ct);
            return status.Tenant == tenant.Name ? status : null;
        }
        catch (UnknownBundleJobException)
        {
            return null;
        }
    }

    internal static ProblemHttpResult NoTenant(TenantDirectory tenants, ClaimsPrincipal user) =>
        Problems.Forbidden(tenants.SubjectOf(user) is { } subject
            ? $"the token's {tenants.Claim} '{subject}' belongs to no tenant"
            : $"the token has no '{tenants.Claim}' claim to find its tenant by");
}
