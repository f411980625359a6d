using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Api.Tenants;
using BundleCluster.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BundleCluster.Api.Jobs;

/// <summary>
/// The body of <c>POST /v1/jobs</c>. Read strictly: unknown fields, wrong types and trailing data are refused, each
/// naming the field. Keys are never part of a request: <see cref="Identity"/> names a signing identity the silos hold.
/// </summary>
public sealed record JobRequest
{
    /// <summary><c>s3://bucket/key</c>, or an absolute path under one of the tenant's image roots.</summary>
    public string? Image { get; init; }

    /// <summary><c>s3://bucket/prefix</c>, or a directory under one of the tenant's destination roots.</summary>
    public string? Destination { get; init; }

    /// <summary>Names the manifest and parts; defaults to the image's file name.</summary>
    public string? Prefix { get; init; }

    /// <summary><c>x86_64</c> (default) or <c>i386</c>.</summary>
    public string? Arch { get; init; }

    /// <summary>The 12-digit AWS account number the bundle is for.</summary>
    public string? Account { get; init; }

    public string? Kernel { get; init; }

    public string? Ramdisk { get; init; }

    /// <summary>Virtual name to device, as <c>-B ami=sda1,root=/dev/sda1</c> gives them.</summary>
    public Dictionary<string, string>? BlockDeviceMappings { get; init; }

    public List<string>? ProductCodes { get; init; }

    /// <summary>gzip level 1-9 (default 6).</summary>
    public int? Level { get; init; }

    /// <summary>Replace a bundle of the same prefix at the destination.</summary>
    public bool? Overwrite { get; init; }

    /// <summary>The name of a signing identity the tenant may use.</summary>
    public string? Identity { get; init; }

    /// <summary>Labels to find the job by (at most 32; keys 1-63 of a-z 0-9 . _ / -, values up to 256 characters).</summary>
    public Dictionary<string, string>? Labels { get; init; }

    /// <summary>Among the tenant's waiting jobs and others', higher runs first (-100 to 100, default 0).</summary>
    public int? Priority { get; init; }

    /// <summary>How the body is read: camelCase, nothing unknown, no numbers in strings.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        NumberHandling = JsonNumberHandling.Strict,
        AllowTrailingCommas = false,
        ReadCommentHandling = JsonCommentHandling.Disallow,
    };

    /// <summary>
    /// Checks the request against the rules and the caller's tenant and turns it into a job spec; or the problem to
    /// answer instead (400 for a malformed or missing field, 403 for what the tenant may not use, 422 for a value no
    /// tenant could use).
    /// </summary>
    public (BundleJobSpec? Spec, ProblemHttpResult? Problem) ToSpec(Tenant tenant)
    {
        if (string.IsNullOrWhiteSpace(Image))
        {
            return (null, Problems.BadRequest("image is required: s3://bucket/key or a path", "image"));
        }

        if (string.IsNullOrWhiteSpace(Destination))
        {
            return (null, Problems.BadRequest("destination is required: s3://bucket/prefix or a directory", "destination"));
        }

        if (string.IsNullOrWhiteSpace(Account))
        {
            return (null, Problems.BadRequest("account is required: the 12-digit AWS account number", "account"));
        }

        if (string.IsNullOrWhiteSpace(Identity))
        {
            return (null, Problems.BadRequest("identity is required: the name of a signing identity", "identity"));
        }

        if (Level is < 1 or > 9)
        {
            return (null, Problems.Unprocessable($"level {Level} is not 1-9", "level"));
        }

        if (Priority is < -100 or > 100)
        {
            return (null, Problems.Unprocessable($"priority {Priority} is not -100 to 100", "priority"));
        }

        if (LabelProblem() is { } labels)
        {
            return (null, Problems.Unprocessable(labels, "labels"));
        }

        foreach ((string field, string location, IReadOnlyList<string> allowed) in new[] { ("image", Image, tenant.Images), ("destination", Destination, tenant.Destinations) })
        {
            if (PathProblem(location) is { } problem)
            {
                return (null, Problems.Unprocessable($"{field} '{location}' {problem}", field));
            }

            // The silos check again, authoritatively (links resolved on their file system, files as opened).
            try
            {
                Confinement allowance = Confinement.Of(allowed);
                if (!allowance.IsConfined)
                {
                    return (null, Problems.Forbidden($"tenant '{tenant.Name}' may use no {field} location", field));
                }

                // By name first, whether or not the file exists: a path outside the tenant's roots is refused the same
                // way either way, so no tenant learns what exists elsewhere.
                if (!Storage.S3.S3Location.IsS3(location) && !allowance.Roots.Any(root => IsAtOrUnder(Path.GetFullPath(location), Path.GetFullPath(root))))
                {
                    return (null, Problems.Forbidden($"tenant '{tenant.Name}' may not use {field} '{location}'", field));
                }

                allowance.Require(location, field);
            }
            catch (Format.Errors.BundleException ex)
            {
                return (null, Problems.Forbidden($"tenant '{tenant.Name}': {ex.Message}", field));
            }
        }

        if (!tenant.Identities.Contains(Identity, StringComparer.Ordinal))
        {
            return (null, Problems.Forbidden($"tenant '{tenant.Name}' may not sign with identity '{Identity}'", "identity"));
        }

        var spec = new BundleJobSpec
        {
            ImagePath = Image,
            Destination = Destination,
            Prefix = Prefix,
            Architecture = Arch ?? "x86_64",
            User = Account,
            KernelId = Kernel,
            RamdiskId = Ramdisk,
            BlockDeviceMappings = BlockDeviceMappings is null ? null : string.Join(',', BlockDeviceMappings.Select(kv => $"{kv.Key}={kv.Value}")),
            ProductCodes = ProductCodes is null ? null : string.Join(',', ProductCodes),
            CompressionLevel = Level ?? BundleJobSpec.DefaultCompressionLevel,
            Overwrite = Overwrite ?? false,
            // The silos resolve the identity to its files under their identity root; no path comes from outside.
            Identity = Identity,
            UserCertificatePath = "",
            PrivateKeyPath = "",
            CloudCertificatePath = "",
            Tenant = tenant.Name,
            Priority = Priority ?? 0,
            Quota = tenant.Quota,
            Allowance = tenant.Allowance,
            Labels = Labels,
            RequestFingerprint = Fingerprint(),
        };
        return (spec, null);
    }

    /// <summary>
    /// A digest of what the request asks for (its fields as parsed, dictionaries in key order): the same idempotency key
    /// with a different request is told so instead of being answered with the first job.
    /// </summary>
    public string Fingerprint()
    {
        JobRequest canonical = this with
        {
            BlockDeviceMappings = BlockDeviceMappings is null ? null : new(BlockDeviceMappings.OrderBy(kv => kv.Key, StringComparer.Ordinal)),
            Labels = Labels is null ? null : new(Labels.OrderBy(kv => kv.Key, StringComparer.Ordinal)),
        };
        return Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(canonical, Json)));
    }

    /// <summary>The job id for an idempotency key: per tenant (two tenants' "nightly-1" are two jobs), hex, fixed length.</summary>
    public static string JobIdFor(string tenant, string idempotencyKey) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{tenant}\n{idempotencyKey}")))[..32];

    private static bool IsAtOrUnder(string path, string root) =>
        path == root.TrimEnd('/') || path.StartsWith(root.TrimEnd('/') + "/", StringComparison.Ordinal);

    private static string? PathProblem(string location)
    {
        if (location.Any(char.IsControl))
        {
            return "contains a control character";
        }

        if (Storage.S3.S3Location.IsS3(location))
        {
            return null;
        }

        if (!Path.IsPathFullyQualified(location))
        {
            return "is neither s3://… nor an absolute path";
        }

        return location.Split('/').Any(segment => segment is "..") ? "contains '..'" : null;
    }

    private string? LabelProblem()
    {
        if (Labels is null)
        {
            return null;
        }

        if (Labels.Count > 32)
        {
            return $"{Labels.Count} labels; at most 32";
        }

        foreach ((string key, string value) in Labels)
        {
            if (key.Length is 0 or > 63 || !key.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_' or '/' or '-'))
            {
                return $"label key '{key}' must be 1-63 of a-z 0-9 . _ / -";
            }

            if (value is null || value.Length > 256 || value.Any(char.IsControl))
            {
                return $"label '{key}' must have a value of at most 256 characters, without control characters";
            }
        }

        return null;
    }
}
