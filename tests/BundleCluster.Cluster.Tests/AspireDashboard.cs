using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using BundleCluster.TestSupport;

namespace BundleCluster.Cluster.Tests;

/// <summary>
/// The standalone Aspire Dashboard (NuGet Aspire.Dashboard.Sdk.linux-x64) as a real OTLP backend on 127.0.0.1:
/// OTLP over gRPC and HTTP/protobuf in, traces out through its telemetry API. Killed on dispose.
/// </summary>
internal sealed class AspireDashboard : IDisposable
{
    private const string PackageVersion = "13.6.5"; // as the test project's PackageDownload names it
    private readonly LoggedProcess _process;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public AspireDashboard()
    {
        ApiPort = RedisServer.FreePort();
        GrpcPort = RedisServer.FreePort();
        HttpPort = RedisServer.FreePort();
        string packages = typeof(AspireDashboard).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "NuGetPackageRoot").Value!;
        string executable = Path.Combine(packages, "aspire.dashboard.sdk.linux-x64", PackageVersion, "tools", "Aspire.Dashboard");
        var psi = new ProcessStartInfo(executable);
        psi.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{ApiPort}";
        psi.Environment["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = GrpcEndpoint;
        psi.Environment["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = HttpEndpoint;
        psi.Environment["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true";
        psi.Environment["DASHBOARD__API__ENABLED"] = "true";
        psi.Environment["DASHBOARD__API__AUTHMODE"] = "Unsecured";
        _process = new LoggedProcess(psi);
    }

    public int ApiPort { get; }

    public int GrpcPort { get; }

    public int HttpPort { get; }

    public string GrpcEndpoint => $"http://127.0.0.1:{GrpcPort}";

    public string HttpEndpoint => $"http://127.0.0.1:{HttpPort}";

    public Task WaitStartedAsync() => _process.WaitForLogAsync("OTLP/HTTP listening on", "the Aspire Dashboard", TimeSpan.FromSeconds(30));

    /// <summary>The spans the dashboard holds for one trace, each with the attributes of the resource (process) that sent it.</summary>
    public async Task<List<ReceivedSpan>> TraceAsync(string traceId)
    {
        using HttpResponseMessage response = await _http.GetAsync($"http://127.0.0.1:{ApiPort}/api/telemetry/traces/{traceId}");
        if (!response.IsSuccessStatusCode)
        {
            return [];
        }

        using JsonDocument json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var spans = new List<ReceivedSpan>();
        foreach (JsonElement resourceSpans in json.RootElement.GetProperty("data").GetProperty("resourceSpans").EnumerateArray())
        {
            Dictionary<string, string> resource = resourceSpans.TryGetProperty("resource", out JsonElement r) ? Attributes(r) : [];
            foreach (JsonElement scope in resourceSpans.GetProperty("scopeSpans").EnumerateArray())
            {
                foreach (JsonElement span in scope.GetProperty("spans").EnumerateArray())
                {
                    spans.Add(new ReceivedSpan(span.GetProperty("name").GetString()!, span.GetProperty("traceId").GetString()!, Attributes(span), resource));
                }
            }
        }

        return spans;
    }

    private static Dictionary<string, string> Attributes(JsonElement owner)
    {
        var attributes = new Dictionary<string, string>();
        if (owner.TryGetProperty("attributes", out JsonElement list))
        {
            foreach (JsonElement attribute in list.EnumerateArray())
            {
                JsonElement value = attribute.GetProperty("value");
                attributes[attribute.GetProperty("key").GetString()!] = value.EnumerateObject().Select(v => v.Value.ToString()).FirstOrDefault() ?? "";
            }
        }

        return attributes;
    }

    public void Dispose()
    {
        _process.Dispose();
        _http.Dispose();
    }

    public sealed record ReceivedSpan(string Name, string TraceId, Dictionary<string, string> Attributes, Dictionary<string, string> Resource);
}
