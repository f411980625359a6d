using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using BundleCluster.Abstractions.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BundleCluster.Client.Service;

/// <summary>Where bundle-api is and how to authenticate to it.</summary>
public sealed class BundleServiceOptions
{
    /// <summary>The configuration section <c>AddBundleServiceClient()</c> binds by default (keys Url, Token, TokenFile).</summary>
    public const string Section = "BundleService";

    /// <summary>bundle-api's base address, e.g. https://bundles.example.com.</summary>
    public Uri? Url { get; set; }

    /// <summary>A bearer token.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// A file holding the bearer token, read for every request: a Kubernetes projected service-account token, which
    /// the kubelet rotates in place.
    /// </summary>
    public string? TokenFile { get; set; }
}

/// <summary>Refused by bundle-api: no token, a token failing a check (401), or a caller not allowed there (403).</summary>
public sealed class BundleServiceAccessException(string message, HttpStatusCode status)
    : BundleClusterException(message, JobErrorKind.InvalidParameter)
{
    public HttpStatusCode Status { get; } = status;
}

/// <summary>
/// bundle-api over HTTP: the same calls and typed exceptions as <see cref="BundleClusterClient"/> (statuses are
/// <see cref="BundleJobStatus"/>), for code outside the cluster's network. Watching follows the job's Server-Sent
/// Events stream, reconnecting with Last-Event-ID when the connection drops.
/// </summary>
public sealed class BundleServiceClient : IBundleJobClient
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly HttpClient _http;
    private readonly Func<CancellationToken, ValueTask<string?>> _token;

    /// <param name="http">Its BaseAddress is bundle-api's.</param>
    /// <param name="token">The bearer token for each request (null: none).</param>
    public BundleServiceClient(HttpClient http, Func<CancellationToken, ValueTask<string?>>? token = null)
    {
        _http = http;
        _token = token ?? (_ => ValueTask.FromResult<string?>(null));
    }

    /// <summary>A client of its own (one connection pool, renewed every few minutes so DNS changes are seen).</summary>
    public static BundleServiceClient Create(BundleServiceOptions options)
    {
        Uri url = options.Url ?? throw new ArgumentException("BundleServiceOptions.Url is required", nameof(options));
        var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) })
        {
            BaseAddress = url,
            Timeout = Timeout.InfiniteTimeSpan, // event streams stay open; each call below has its own bound
        };
        return new BundleServiceClient(http, TokenSource(options));
    }

    private static Func<CancellationToken, ValueTask<string?>> TokenSource(BundleServiceOptions options) =>
        options.TokenFile is { } file
            ? async ct => (await File.ReadAllTextAsync(file, ct)).Trim()
            : _ => ValueTask.FromResult(options.Token);

    /// <summary>Submits a job; returns its id. The same <paramref name="idempotencyKey"/> and request give the same job.</summary>
    /// <exception cref="BundleJobValidationException">A field is refused (<see cref="BundleJobValidationException.Field"/> names it).</exception>
    public async Task<string> SubmitAsync(ServiceJobRequest request, string? idempotencyKey = null, CancellationToken ct = default)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = JsonContent.Create(request, options: Json) };
        if (idempotencyKey is not null)
        {
            message.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        JobView job = await SendAsync<JobView>(message, null, ct);
        return job.Id;
    }

    /// <exception cref="UnknownBundleJobException">No job of the caller's tenant has this id.</exception>
    public async Task<BundleJobStatus> GetStatusAsync(string jobId, CancellationToken ct = default) =>
        (await SendAsync<JobView>(new HttpRequestMessage(HttpMethod.Get, JobPath(jobId)), jobId, ct)).ToStatus();

    public async Task<BundleJobStatus> CancelAsync(string jobId, CancellationToken ct = default) =>
        (await SendAsync<JobView>(new HttpRequestMessage(HttpMethod.Post, JobPath(jobId) + ":cancel"), jobId, ct)).ToStatus();

    IAsyncEnumerable<BundleJobStatus> IBundleJobClient.FollowAsync(string jobId, CancellationToken ct) => WatchAsync(jobId, ct: ct);

    Task<IReadOnlyList<BundleJobStatus>> IBundleJobClient.ListJobsAsync(int max, CancellationToken ct) => ListJobsAsync(max, ct: ct);

    /// <summary>The caller's tenant's jobs, newest first, following page tokens up to <paramref name="max"/>.</summary>
    public async Task<IReadOnlyList<BundleJobStatus>> ListJobsAsync(int max = 100, BundleJobState? state = null, string? label = null,
        CancellationToken ct = default)
    {
        var jobs = new List<BundleJobStatus>();
        string? token = null;
        do
        {
            var query = new List<string> { $"limit={Math.Clamp(max - jobs.Count, 1, 100)}" };
            if (state is { } s)
            {
                query.Add($"state={s}");
            }

            if (label is not null)
            {
                query.Add($"label={Uri.EscapeDataString(label)}");
            }

            if (token is not null)
            {
                query.Add($"pageToken={Uri.EscapeDataString(token)}");
            }

            JobPage page = await SendAsync<JobPage>(new HttpRequestMessage(HttpMethod.Get, "/v1/jobs?" + string.Join('&', query)), null, ct);
            jobs.AddRange(page.Jobs.Select(j => j.ToStatus()));
            token = page.NextPageToken;
        }
        while (token is not null && jobs.Count < max);

        return jobs;
    }

    /// <summary>The autoscaling signal (needs a token allowed to read it).</summary>
    public Task<ScaleSignal> GetScaleSignalAsync(CancellationToken ct = default) =>
        SendAsync<ScaleSignal>(new HttpRequestMessage(HttpMethod.Get, "/v1/scale"), null, ct);

    /// <summary>
    /// The job's status as its event stream reports it, ending with its final status. A dropped stream is reopened
    /// with the last event id (the service then repeats the current status, so the final one is never missed) for up
    /// to <paramref name="unreachableFor"/> (default 2 minutes) without an answer.
    /// </summary>
    public async IAsyncEnumerable<BundleJobStatus> WatchAsync(string jobId, TimeSpan? unreachableFor = null,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        TimeSpan bound = unreachableFor ?? TimeSpan.FromMinutes(2);
        string? lastEventId = null;
        DateTime lastAnswer = DateTime.UtcNow;
        bool Transient(Exception ex) =>
            ex is ClusterUnreachableException or HttpRequestException or IOException && DateTime.UtcNow - lastAnswer < bound;
        while (true)
        {
            HttpResponseMessage? response = null;
            SseParser<string> parser;
            IAsyncEnumerator<SseItem<string>> events;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, JobPath(jobId) + "/events");
                if (lastEventId is not null)
                {
                    request.Headers.Add("Last-Event-ID", lastEventId);
                }

                response = await SendRawAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
                await ThrowIfFailedAsync(response, jobId, ct);
                parser = SseParser.Create(await response.Content.ReadAsStreamAsync(ct));
                events = parser.EnumerateAsync(ct).GetAsyncEnumerator(ct);
            }
            catch (Exception ex) when (Transient(ex))
            {
                response?.Dispose();
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
                continue;
            }

            try
            {
                while (true)
                {
                    try
                    {
                        if (!await events.MoveNextAsync())
                        {
                            break; // the service closed the stream before the final event: reconnect
                        }
                    }
                    catch (Exception ex) when (Transient(ex))
                    {
                        break;
                    }

                    lastAnswer = DateTime.UtcNow;
                    lastEventId = parser.LastEventId;
                    yield return JsonSerializer.Deserialize<JobView>(events.Current.Data, Json)!.ToStatus();
                    if (events.Current.EventType == "final")
                    {
                        yield break;
                    }
                }
            }
            finally
            {
                await events.DisposeAsync();
                response.Dispose();
            }

            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }
    }

    private static string JobPath(string jobId) => "/v1/jobs/" + Uri.EscapeDataString(jobId);

    /// <summary>Creates the series <paramref name="name"/> or replaces its definition (runs, last success and pause state stay).</summary>
    public Task<SeriesView> PutSeriesAsync(string name, ServiceSeriesRequest request, CancellationToken ct = default) =>
        SendAsync<SeriesView>(new HttpRequestMessage(HttpMethod.Put, SeriesPath(name)) { Content = JsonContent.Create(request, options: Json) }, null, ct);

    public async Task<IReadOnlyList<SeriesView>> ListSeriesAsync(CancellationToken ct = default) =>
        (await SendAsync<SeriesList>(new HttpRequestMessage(HttpMethod.Get, "/v1/series"), null, ct)).Series;

    public Task<SeriesView> GetSeriesAsync(string name, CancellationToken ct = default) =>
        SendAsync<SeriesView>(new HttpRequestMessage(HttpMethod.Get, SeriesPath(name)), null, ct);

    public Task<SeriesView> PauseSeriesAsync(string name, CancellationToken ct = default) =>
        SendAsync<SeriesView>(new HttpRequestMessage(HttpMethod.Post, SeriesPath(name) + ":pause"), null, ct);

    public Task<SeriesView> ResumeSeriesAsync(string name, CancellationToken ct = default) =>
        SendAsync<SeriesView>(new HttpRequestMessage(HttpMethod.Post, SeriesPath(name) + ":resume"), null, ct);

    /// <summary>
    /// Runs the series for <paramref name="date"/> (yyyy-MM-dd) with the idempotency key <c>nightly/NAME/DATE</c>: asking
    /// again for the same date answers the same run, never a second job.
    /// </summary>
    public Task<RunView> RunSeriesAsync(string name, string date, CancellationToken ct = default)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, SeriesPath(name) + "/runs")
        {
            Content = JsonContent.Create(new ServiceRunRequest { Date = date }, options: Json),
        };
        message.Headers.Add("Idempotency-Key", JobIds.NightlyKey(name, date));
        return SendAsync<RunView>(message, null, ct);
    }

    public Task<RunView> GetSeriesRunAsync(string name, string date, CancellationToken ct = default) =>
        SendAsync<RunView>(new HttpRequestMessage(HttpMethod.Get, SeriesPath(name) + "/runs/" + Uri.EscapeDataString(date)), null, ct);

    /// <summary>The series' runs, newest first.</summary>
    public async Task<IReadOnlyList<RunView>> ListSeriesRunsAsync(string name, int limit = 30, CancellationToken ct = default) =>
        (await SendAsync<RunList>(new HttpRequestMessage(HttpMethod.Get, $"{SeriesPath(name)}/runs?limit={limit}"), null, ct)).Runs;

    private static string SeriesPath(string name) => "/v1/series/" + Uri.EscapeDataString(name);

    private async Task<T> SendAsync<T>(HttpRequestMessage request, string? jobId, CancellationToken ct)
    {
        using (request)
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bound.CancelAfter(TimeSpan.FromSeconds(100));
            using HttpResponseMessage response = await SendRawAsync(request, HttpCompletionOption.ResponseContentRead, bound.Token);
            await ThrowIfFailedAsync(response, jobId, ct);
            return await response.Content.ReadFromJsonAsync<T>(Json, ct)
                   ?? throw new BundleClusterException("bundle-api answered with an empty body", JobErrorKind.Failed);
        }
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken ct)
    {
        if (await _token(ct) is { Length: > 0 } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        try
        {
            return await _http.SendAsync(request, completion, ct);
        }
        catch (HttpRequestException ex)
        {
            throw new ClusterUnreachableException($"bundle-api at {_http.BaseAddress} did not answer: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new ClusterUnreachableException($"bundle-api at {_http.BaseAddress} did not answer in time", ex);
        }
    }

    /// <summary>Turns a problem answer into the exception the Orleans client would throw for the same cause.</summary>
    private static async Task ThrowIfFailedAsync(HttpResponseMessage response, string? jobId, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        Problem? problem = null;
        try
        {
            problem = await response.Content.ReadFromJsonAsync<Problem>(Json, ct);
        }
        catch (JsonException)
        {
            // not a problem document (a proxy's page): the status says enough
        }

        string detail = problem?.Detail ?? $"bundle-api answered {(int)response.StatusCode} {response.ReasonPhrase}";
        throw response.StatusCode switch
        {
            HttpStatusCode.NotFound when jobId is not null => new UnknownBundleJobException(jobId),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden when problem?.Field is null => new BundleServiceAccessException(detail, response.StatusCode),
            HttpStatusCode.BadRequest or HttpStatusCode.Forbidden or HttpStatusCode.UnprocessableEntity =>
                new BundleJobValidationException(problem?.Field ?? "body", detail, JobErrorKind.InvalidParameter),
            HttpStatusCode.TooManyRequests => new BundleClusterException(detail, JobErrorKind.QuotaExceeded),
            HttpStatusCode.ServiceUnavailable or HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout => new ClusterUnreachableException(detail),
            _ => new BundleClusterException(detail, JobErrorKind.Failed),
        };
    }

    private sealed record Problem(string? Title, string? Detail, string? Field);
}

/// <summary>Registration of <see cref="BundleServiceClient"/> in DI.</summary>
public static class BundleServiceClientRegistration
{
    /// <summary>Registers a <see cref="BundleServiceClient"/> (<c>services.AddBundleServiceClient(o => o.Url = new("https://…"))</c>).</summary>
    public static IServiceCollection AddBundleServiceClient(this IServiceCollection services, Action<BundleServiceOptions> configure)
    {
        services.AddOptions<BundleServiceOptions>().Configure(configure)
            .Validate(o => o.Url is { IsAbsoluteUri: true }, "BundleService:Url must be bundle-api's absolute URL")
            .ValidateOnStart();
        services.AddSingleton(sp => BundleServiceClient.Create(sp.GetRequiredService<IOptions<BundleServiceOptions>>().Value));
        return services;
    }
}
