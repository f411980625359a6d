using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace BundleCluster.TestSupport;

/// <summary>
/// An HTTP proxy on 127.0.0.1 in front of the S3 test server that records every request (method, path, the headers
/// we assert on) and, at a configured rate, answers 503 SlowDown or drops the connection — fault injection only;
/// the real server does the real work.
/// </summary>
public sealed class FaultInjectingS3Proxy : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _upstream = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false });
    private readonly Random _random = new(1234);

    public sealed record Seen(string Method, string Path, string? Acl, string? ContentMd5, string? CopySource, int Status);

    public FaultInjectingS3Proxy(string upstream)
    {
        Port = RedisServer.FreePort();
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{Port}");
        _app = builder.Build();
        _app.Run(context => ForwardAsync(context, upstream.TrimEnd('/')));
        _app.StartAsync().GetAwaiter().GetResult();
    }

    public int Port { get; }

    public string EndpointUrl => $"http://127.0.0.1:{Port}";

    /// <summary>Fraction of requests that fail (half 503 SlowDown, half a dropped connection).</summary>
    public double FailureRate { get; set; }

    /// <summary>When set, every request fails as if the server were gone.</summary>
    public bool ServerGone { get; set; }

    public ConcurrentQueue<Seen> Requests { get; } = new();

    private async Task ForwardAsync(HttpContext context, string upstream)
    {
        HttpRequest request = context.Request;
        string path = request.Path + request.QueryString;
        double roll;
        lock (_random)
        {
            roll = _random.NextDouble();
        }

        if (ServerGone || roll < FailureRate)
        {
            Record(request, ServerGone ? 0 : roll < FailureRate / 2 ? 503 : -1);
            if (!ServerGone && roll < FailureRate / 2)
            {
                context.Response.StatusCode = 503;
                await context.Response.WriteAsync("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>");
                return;
            }

            context.Abort(); // a reset connection
            return;
        }

        using var forward = new HttpRequestMessage(new HttpMethod(request.Method), upstream + path);
        var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        body.Position = 0;
        forward.Content = new StreamContent(body);
        foreach (var header in request.Headers)
        {
            if (header.Key.Equals("Host", StringComparison.OrdinalIgnoreCase) || header.Key.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!forward.Headers.TryAddWithoutValidation(header.Key, header.Value.ToArray()))
            {
                forward.Content.Headers.TryAddWithoutValidation(header.Key, header.Value.ToArray());
            }
        }

        forward.Content.Headers.ContentLength = body.Length;
        using HttpResponseMessage response = await _upstream.SendAsync(forward, HttpCompletionOption.ResponseHeadersRead);
        Record(request, (int)response.StatusCode);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var header in response.Headers.Concat(response.Content.Headers))
        {
            if (!header.Key.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers[header.Key] = header.Value.ToArray();
            }
        }

        await response.Content.CopyToAsync(context.Response.Body);
    }

    private void Record(HttpRequest request, int status) => Requests.Enqueue(new Seen(
        request.Method, request.Path.Value ?? "", request.Headers["x-amz-acl"].FirstOrDefault(),
        request.Headers["Content-MD5"].FirstOrDefault(), request.Headers["x-amz-copy-source"].FirstOrDefault(), status));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _upstream.Dispose();
    }
}
