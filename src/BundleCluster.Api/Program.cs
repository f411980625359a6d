using BundleCluster.Api;
using BundleCluster.Api.Auth;
using BundleCluster.Api.Jobs;
using BundleCluster.Api.Series;
using BundleCluster.Api.Tenants;
using BundleCluster.Client;
using BundleCluster.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Dashboard;

// bundle-api: the public door of a BundleCluster cluster. An Orleans client of the silos (through their Redis), it
// takes jobs over HTTP from authenticated tenants; the Orleans gateway itself stays private to the cluster.
StartupJitProfile.Start("bundle-api");
WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
builder.Configuration
    .AddJsonFile("appsettings.json", optional: true)
    .AddEnvironmentVariables("BUNDLEAPI_")
    .AddCommandLine(CommandLineFlags.WithSwitches(args, "--dashboard"), ApiArguments.SwitchMappings);
ApiOptions options = builder.Configuration.GetSection(ApiOptions.Section).Get<ApiOptions>() ?? new ApiOptions();

List<string> problems = ApiArguments.Problems(options);
TenantDirectory? tenants = null;
if (options.Tenants is { } tenantsFile && problems.Count == 0)
{
    try
    {
        tenants = TenantDirectory.Load(tenantsFile);
    }
    catch (InvalidDataException ex)
    {
        problems.AddRange(ex.Message.Split('\n'));
    }
}

Microsoft.IdentityModel.Tokens.SecurityKey? signingKey = null;
if (options.JwtKeyFile is { } keyFile && problems.Count == 0)
{
    try
    {
        signingKey = BearerTokens.LoadPublicKey(keyFile);
    }
    catch (InvalidDataException ex)
    {
        problems.Add(ex.Message);
    }
}

if (problems.Count > 0 || tenants is null)
{
    foreach (string problem in problems)
    {
        Console.Error.WriteLine($"bundle-api: error: {problem}");
    }

    return 1;
}

builder.WebHost.UseUrls(options.Urls);
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = 32L << 20); // endpoints read far less themselves
builder.Services.Configure<ApiOptions>(o => o.MaxBodyBytes = options.MaxBodyBytes);
builder.AddBundleClusterTelemetry("bundle-api");
builder.AddBundleClusterClient(o =>
{
    o.Redis = options.Redis!;
    o.ClusterId = options.ClusterId;
    o.ServiceId = options.ServiceId;
    o.WaitForCluster = true; // a service starts beside its cluster: keep trying, and say "not ready" meanwhile
}, client =>
{
    if (options.Dashboard)
    {
        client.AddDashboard();
    }
});
// The HTTP server (health probes) comes up while the cluster client is still connecting.
builder.Services.Configure<HostOptions>(host => host.ServicesStartConcurrently = true);
builder.Services.AddSingleton(tenants);
builder.Services.AddBundleApiAuth(options, tenants, signingKey);
builder.Services.AddProblemDetails();
Microsoft.Extensions.DependencyInjection.Extensions.ServiceCollectionDescriptorExtensions.TryAddSingleton(builder.Services, TimeProvider.System);
builder.Services.AddSingleton<BundleCluster.Api.Jobs.RefusedDemand>();
builder.Services.AddExceptionHandler<ClusterUnavailableHandler>();
builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
builder.Services.AddOpenApi();
builder.Services.AddHealthChecks().AddCheck<ClusterHealthCheck>("cluster", tags: ["ready"]);

WebApplication app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();
app.MapHealthChecks(HealthEndpoints.LivePath, new HealthCheckOptions { Predicate = _ => false }); // the process answers
app.MapHealthChecks(HealthEndpoints.ReadyPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
app.MapOpenApi().RequireAuthorization(BearerTokens.JobsPolicy);
app.MapJobEndpoints();
app.MapSeriesEndpoints();
if (options.Dashboard)
{
    app.MapOrleansDashboard(DashboardPath).RequireAuthorization(BearerTokens.OperatorPolicy).ExcludeFromDescription(); // not our API
}

await app.RunAsync();
return 0;

/// <summary>bundle-api's entry point.</summary>
internal partial class Program
{
    /// <summary>Where the Orleans Dashboard is served (operators only).</summary>
    public const string DashboardPath = "/admin/orleans";
}
