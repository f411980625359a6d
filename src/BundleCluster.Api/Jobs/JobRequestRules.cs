using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Api.Tenants;
using BundleCluster.Storage;
using BundleCluster.Client.Service;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BundleCluster.Api.Jobs;

/// <summary>
/// bundle-api's rules for a <see cref="ServiceJobRequest"/>: read strictly (unknown fields, wrong types and trailing data
/// are refused, each naming the field), checked against the caller's tenant, and turned into a job spec.
/// </summary>
internal static class JobRequestRules
{
    /// <summary>How the body is read: camelCase, nothing unknown, no numbers in strings.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        NumberHandling = JsonNumberHandling.Strict,
        AllowTrailingCommas = false,
        ReadCommentHandling = JsonCommentHandling.Disallow,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) }, // "content", not 2
    };

    /// <summary>
    /// Checks the request against the rules and the caller's tenant and turns it into a job spec; or the problem to
    /// answer instead (400 for a malformed or missing field, 403 for what the tenant may not use, 422 for a value no
    /// tenant could use).
    /// </summary>
    public static (BundleJobSpec? Spec, ProblemHttpResult? Problem) ToSpec(this ServiceJobRequest request, Tenant tenant)
    {
        if (string.IsNullOrWhiteSpace(request.Image))
        {
            return (null, Problems.BadRequest("image is required: s3://bucket/key or a path", "image"));
        }

        if (string.IsNullOrWhiteSpace(request.Destination))
        {
            return (null, Problems.BadRequest("destination is required: s3://bucket/prefix or a directory", "destination"));
        }

        if (string.IsNullOrWhiteSpace(request.Account))
        {
            return (null, Problems.BadRequest("account is required: the 12-digit AWS account number", "account"));
        }

        if (string.IsNullOrWhiteSpace(request.Identity))
        {
            return (null, Problems.BadRequest("identity is required: the name of a signing identity", "identity"));
        }

        if (request.Level is < 1 or > 9)
        {
            return (null, Problems.Unprocessable($"level {request.Level} is not 1-9", "level"));
        }

        if (request.Priority is < -100 or > 100)
        {
            return (null, Problems.Unprocessable($"priority {request.Priority} is not -100 to 100", "priority"));
        }

        if (LabelProblem(request.Labels) is { } labels)
        {
            return (null, Problems.Unprocessable(labels, "labels"));
        }

        foreach ((string field, string location, IReadOnlyList<string> allowed) in new[] { ("image", request.Image, tenant.Images), ("destination", request.Destination, tenant.Destinations) })
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

        if (!tenant.Identities.Contains(request.Identity, StringComparer.Ordinal))
        {
            return (null, Problems.Forbidden($"tenant '{tenant.Name}' may not sign with identity '{request.Identity}'", "identity"));
        }

        var spec = new BundleJobSpec
        {
            ImagePath = request.Image,
            Destination = request.Destination,
            Prefix = request.Prefix,
            Architecture = request.Arch ?? "x86_64",
            User = request.Account,
            KernelId = request.Kernel,
            RamdiskId = request.Ramdisk,
            BlockDeviceMappings = request.BlockDeviceMappings is null ? null : string.Join(',', request.BlockDeviceMappings.Select(kv => $"{kv.Key}={kv.Value}")),
            ProductCodes = request.ProductCodes is null ? null : string.Join(',', request.ProductCodes),
            CompressionLevel = request.Level ?? BundleJobSpec.DefaultCompressionLevel,
            Overwrite = request.Overwrite ?? false,
            Baseline = string.IsNullOrWhiteSpace(request.Baseline) ? null : request.Baseline, // confined by the silos, like an image
            // The silos resolve the identity to its files under their identity root; no path comes from outside.
            Identity = request.Identity,
            UserCertificatePath = "",
            PrivateKeyPath = "",
            CloudCertificatePath = "",
            Tenant = tenant.Name,
            Priority = request.Priority ?? 0,
            Quota = tenant.Quota,
            Allowance = tenant.Allowance,
            Labels = request.Labels,
            RequestFingerprint = request.Fingerprint(),
        };
        return (spec, null);
    }

    /// <summary>
    /// A digest of what the request asks for (its fields as parsed, dictionaries in key order): the same idempotency key
    /// with a different request is told so instead of being answered with the first job.
    /// </summary>
    public static string Fingerprint(this ServiceJobRequest request)
    {
        ServiceJobRequest canonical = request with
        {
            BlockDeviceMappings = request.BlockDeviceMappings is null ? null : new(request.BlockDeviceMappings.OrderBy(kv => kv.Key, StringComparer.Ordinal)),
            Labels = request.Labels is null ? null : new(request.Labels.OrderBy(kv => kv.Key, StringComparer.Ordinal)),
        };
        return Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(canonical, Json)));
    }

    /// <inheritdoc cref="JobIds.ForKey"/>
    public static string JobIdFor(string tenant, string idempotencyKey) => JobIds.ForKey(tenant, idempotencyKey);

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

    private static string? LabelProblem(Dictionary<string, string>? labels)
    {
        if (labels is null)
        {
            return null;
        }

        if (labels.Count > 32)
        {
            return $"{labels.Count} labels; at most 32";
        }

        foreach ((string key, string value) in labels)
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
