namespace BundleCluster.Api;

/// <summary>
/// bundle-api's settings: flags (--redis, --urls, …), appsettings.json section "BundleApi", or environment variables
/// BUNDLEAPI_REDIS, BUNDLEAPI_URLS, … (later sources win: file, environment, flags).
/// </summary>
public sealed class ApiOptions
{
    public const string Section = "BundleApi";

    /// <summary>Redis HOST:PORT of the cluster (as for bundle-silo).</summary>
    public string? Redis { get; set; }

    /// <summary>Where to listen; loopback by default: put it behind an ingress to publish it.</summary>
    public string Urls { get; set; } = "http://127.0.0.1:8080";

    public string ClusterId { get; set; } = "bundlecluster";

    public string ServiceId { get; set; } = "bundlecluster";

    /// <summary>An OpenID Connect issuer: its discovery document gives the signing keys.</summary>
    public string? JwtAuthority { get; set; }

    /// <summary>A PEM public key (RSA or EC P-256) tokens are signed with: a Kubernetes service-account issuer, or a simple deployment.</summary>
    public string? JwtKeyFile { get; set; }

    public string? JwtIssuer { get; set; }

    public string? JwtAudience { get; set; }

    /// <summary>The tenants file (see <see cref="Tenants.TenantDirectory"/>).</summary>
    public string? Tenants { get; set; }

    /// <summary>
    /// Serve the Orleans Dashboard under /admin/orleans, for operators only (the silos must run with --dashboard too).
    /// </summary>
    public bool Dashboard { get; set; }

    /// <summary>The largest request body accepted (a job request is well under 4 KiB).</summary>
    public int MaxBodyBytes { get; set; } = 64 * 1024;
}

/// <summary>Maps bundle-api's flags onto configuration keys.</summary>
internal static class ApiArguments
{
    public static readonly Dictionary<string, string> SwitchMappings = new()
    {
        ["--redis"] = "BundleApi:Redis",
        ["--urls"] = "BundleApi:Urls",
        ["--cluster-id"] = "BundleApi:ClusterId",
        ["--service-id"] = "BundleApi:ServiceId",
        ["--jwt-authority"] = "BundleApi:JwtAuthority",
        ["--jwt-key-file"] = "BundleApi:JwtKeyFile",
        ["--jwt-issuer"] = "BundleApi:JwtIssuer",
        ["--jwt-audience"] = "BundleApi:JwtAudience",
        ["--tenants"] = "BundleApi:Tenants",
        ["--max-body-bytes"] = "BundleApi:MaxBodyBytes",
        ["--dashboard"] = "BundleApi:Dashboard",
    };

    /// <summary>Every setting that could only fail later, one line each.</summary>
    public static List<string> Problems(ApiOptions options)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Redis))
        {
            problems.Add("--redis HOST:PORT is required: the cluster's Redis, as given to bundle-silo");
        }

        if ((options.JwtAuthority is null) == (options.JwtKeyFile is null))
        {
            problems.Add("give exactly one of --jwt-authority URL (OpenID Connect) and --jwt-key-file PEM");
        }

        if (options.JwtKeyFile is not null && string.IsNullOrWhiteSpace(options.JwtIssuer))
        {
            problems.Add("--jwt-key-file needs --jwt-issuer (the iss tokens must carry)");
        }

        if (string.IsNullOrWhiteSpace(options.JwtAudience))
        {
            problems.Add("--jwt-audience is required (the aud tokens must carry)");
        }

        if (options.JwtAuthority is { } authority && !(Uri.TryCreate(authority, UriKind.Absolute, out Uri? uri) && uri.Scheme is "https" or "http"))
        {
            problems.Add($"--jwt-authority '{authority}' is not an http(s) URL");
        }

        if (options.JwtKeyFile is { } key && !File.Exists(key))
        {
            problems.Add($"--jwt-key-file '{key}' does not exist");
        }

        if (string.IsNullOrWhiteSpace(options.Tenants))
        {
            problems.Add("--tenants FILE is required: every job belongs to a tenant");
        }

        if (options.MaxBodyBytes is < 1024 or > 16 << 20)
        {
            problems.Add($"--max-body-bytes {options.MaxBodyBytes} must be 1024 to 16777216");
        }

        return problems;
    }
}
