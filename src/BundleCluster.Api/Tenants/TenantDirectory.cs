using System.Security.Claims;
using System.Text.Json;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Storage.S3;

namespace BundleCluster.Api.Tenants;

/// <summary>One tenant of the tenants file: who belongs to it and what its jobs may touch.</summary>
public sealed record Tenant(
    string Name,
    IReadOnlyList<string> Subjects,
    IReadOnlyList<string> Images,
    IReadOnlyList<string> Destinations,
    IReadOnlyList<string> Identities,
    int MaxRunningJobs,
    int MaxQueuedJobs)
{
    public TenantQuota Quota => new(MaxRunningJobs, MaxQueuedJobs);

    public TenantAllowance Allowance => new(Images, Destinations);
}

/// <summary>
/// The tenants file (<c>--tenants FILE</c>): which token claim names the caller, which callers form which tenant, and
/// who may read the scale signal or the operator pages:
/// <code>
/// {"claim": "sub",
///  "tenants": {"NAME": {"subjects": [...], "images": [...], "destinations": [...], "identities": [...],
///                       "maxRunningJobs": N, "maxQueuedJobs": N}},
///  "scaleReaders": [...], "operators": [...]}
/// </code>
/// Read once at start and checked whole: every problem is one line, and the service does not start with any.
/// </summary>
public sealed class TenantDirectory
{
    /// <summary>A token scope (space-separated <c>scope</c> claim) that also grants the scale signal.</summary>
    public const string ScaleScope = "bundle.scale";

    /// <summary>A token scope that also grants the operator pages (the Orleans dashboard).</summary>
    public const string OperatorScope = "bundle.operator";

    private readonly Dictionary<string, Tenant> _bySubject;

    private TenantDirectory(string claim, IReadOnlyList<Tenant> tenants, IReadOnlySet<string> scaleReaders, IReadOnlySet<string> operators)
    {
        Claim = claim;
        Tenants = tenants;
        ScaleReaders = scaleReaders;
        Operators = operators;
        _bySubject = tenants.SelectMany(t => t.Subjects.Select(s => (s, t))).ToDictionary(p => p.s, p => p.t, StringComparer.Ordinal);
    }

    /// <summary>The token claim whose value is matched against the subjects lists.</summary>
    public string Claim { get; }

    public IReadOnlyList<Tenant> Tenants { get; }

    public IReadOnlySet<string> ScaleReaders { get; }

    public IReadOnlySet<string> Operators { get; }

    /// <summary>The caller's identifying claim value, or null when the token has none.</summary>
    public string? SubjectOf(ClaimsPrincipal user) => user.FindFirst(Claim)?.Value;

    /// <summary>The caller's tenant, or null when the caller belongs to none.</summary>
    public Tenant? TenantOf(ClaimsPrincipal user) => SubjectOf(user) is { } subject ? _bySubject.GetValueOrDefault(subject) : null;

    public bool MayReadScale(ClaimsPrincipal user) => Listed(user, ScaleReaders) || HasScope(user, ScaleScope);

    public bool IsOperator(ClaimsPrincipal user) => Listed(user, Operators) || HasScope(user, OperatorScope);

    private bool Listed(ClaimsPrincipal user, IReadOnlySet<string> subjects) => SubjectOf(user) is { } subject && subjects.Contains(subject);

    private static bool HasScope(ClaimsPrincipal user, string scope) =>
        user.FindAll("scope").Any(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(scope, StringComparer.Ordinal));

    /// <summary>Reads and checks the file; throws <see cref="InvalidDataException"/> listing every problem, one per line.</summary>
    public static TenantDirectory Load(string path)
    {
        TenantsFile file;
        try
        {
            file = JsonSerializer.Deserialize<TenantsFile>(File.ReadAllBytes(path), FileJson)
                   ?? throw new InvalidDataException($"tenants file '{path}' is empty");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"tenants file '{path}': {ex.Message}");
        }
        catch (IOException ex)
        {
            throw new InvalidDataException($"tenants file '{path}' cannot be read: {ex.Message}");
        }

        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(file.Claim))
        {
            problems.Add($"tenants file '{path}': \"claim\" must name the token claim that identifies a caller (e.g. \"sub\")");
        }

        var tenants = new List<Tenant>();
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string name, TenantEntry entry) in file.Tenants ?? [])
        {
            string where = $"tenants file '{path}', tenant '{name}'";
            if (!IsName(name))
            {
                problems.Add($"{where}: a tenant name is 1-64 letters, digits, '-', '_' or '.'");
            }

            foreach (string subject in entry.Subjects ?? [])
            {
                if (!owners.TryAdd(subject, name))
                {
                    problems.Add($"{where}: subject '{subject}' already belongs to tenant '{owners[subject]}'");
                }
            }

            foreach (string location in (entry.Images ?? []).Concat(entry.Destinations ?? []))
            {
                if (LocationProblem(location) is { } problem)
                {
                    problems.Add($"{where}: '{location}' {problem}");
                }
            }

            foreach (string identity in (entry.Identities ?? []).Where(i => !IsName(i)))
            {
                problems.Add($"{where}: identity '{identity}' is not a name (1-64 letters, digits, '-', '_' or '.')");
            }

            if (entry.MaxRunningJobs < 0 || entry.MaxQueuedJobs < 0)
            {
                problems.Add($"{where}: maxRunningJobs and maxQueuedJobs must be 0 (no limit) or more");
            }

            tenants.Add(new Tenant(name, entry.Subjects ?? [], entry.Images ?? [], entry.Destinations ?? [], entry.Identities ?? [],
                entry.MaxRunningJobs, entry.MaxQueuedJobs));
        }

        if (tenants.Count == 0)
        {
            problems.Add($"tenants file '{path}': no tenants; every job belongs to one");
        }

        return problems.Count > 0
            ? throw new InvalidDataException(string.Join('\n', problems))
            : new TenantDirectory(file.Claim!, tenants, (file.ScaleReaders ?? []).ToHashSet(StringComparer.Ordinal),
                (file.Operators ?? []).ToHashSet(StringComparer.Ordinal));
    }

    /// <summary>Names (tenants, identities) are one safe path segment: they end up in job state, logs and file names.</summary>
    public static bool IsName(string name) =>
        name.Length is > 0 and <= 64 && name is not "." and not ".." && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static string? LocationProblem(string location)
    {
        if (S3Location.IsS3(location))
        {
            try
            {
                S3Location.Parse(location);
                return null;
            }
            catch (BundleCluster.Format.Errors.BundleException ex)
            {
                return ex.Message;
            }
        }

        return Path.IsPathFullyQualified(location) ? null : "is neither an absolute directory nor s3://bucket/prefix";
    }

    private static readonly JsonSerializerOptions FileJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private sealed record TenantsFile(
        string? Claim,
        Dictionary<string, TenantEntry>? Tenants,
        List<string>? ScaleReaders,
        List<string>? Operators);

    private sealed record TenantEntry(
        List<string>? Subjects,
        List<string>? Images,
        List<string>? Destinations,
        List<string>? Identities,
        int MaxRunningJobs,
        int MaxQueuedJobs);
}
