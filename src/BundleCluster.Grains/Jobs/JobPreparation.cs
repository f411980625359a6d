using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Format.Bundling;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Tar;
using BundleCluster.Grains.Hosting;
using BundleCluster.Storage;
using BundleCluster.Storage.Sinks;
using BundleCluster.Storage.Sources;

namespace BundleCluster.Grains.Jobs;

/// <summary>A field-specific validation failure, so clients can point at the input that is wrong.</summary>
internal sealed class JobValidationException(string field, BundleException inner)
    : Exception(inner.Message, inner)
{
    public string Field { get; } = field;

    public BundleErrorKind Kind { get; } = inner.Kind;
}

/// <summary>
/// Validates a spec before any image byte is read and turns it into a plan: metadata, keys (the private key must
/// belong to the user certificate), the image (its size and version are pinned), the destination, and a fresh key
/// wrapped to both certificates.
/// </summary>
internal static class JobPreparation
{
    /// <param name="PrivateKeyVersion">The identity of the private key file read here; the commit signs only with the same file.</param>
    /// <param name="BaselineWarning">Why the spec's baseline may not be used (it is outside what the job may read), or null.</param>
    public sealed record Prepared(ImageSlicePlan Plan, WrappedBundleKey Key, string Prefix, string PrivateKeyVersion, string? BaselineWarning = null);

    public static async Task<Prepared> PrepareAsync(string jobId, BundleJobSpec spec, IBundleSink sink,
        BundleClusterOptions options, CancellationToken ct)
    {
        // A clustered silo only touches what its operator allowed: images and bundles under the allowed roots, key
        // files under the key roots (or the allowed roots).
        // Files are checked as opened (the path the kernel resolved), not by name first: a symlink swapped in between
        // a check and an open would otherwise pass.
        IReadOnlyCollection<string> keyRoots = options.KeyFileRoots();
        Field("idempotencyKey", () => jobId.Length <= 256 && !jobId.Any(char.IsControl)
            ? true
            : throw BundleException.InvalidParameter("the idempotency key must be at most 256 characters without control characters"));
        Field("destination", () => RequireAllowed(spec.Destination, spec.Allowance?.Destinations, options, "destination"));
        Field("image", () => RequireAllowed(spec.ImagePath, spec.Allowance?.Images, options, "image"));
        Field("s3", () => Pipeline.PlanExtensions.Settings(spec.S3)?.Validate());
        Field("user", () => ManifestMetadata.NormalizeAccount(spec.User));
        Field("architecture", () => ManifestMetadata.ValidateArchitecture(spec.Architecture));
        Field("blockDeviceMappings", () => ManifestMetadata.ParseMappings(spec.BlockDeviceMappings));
        Field("compressionLevel", () => spec.CompressionLevel is >= 1 and <= 9
            ? spec.CompressionLevel
            : throw BundleException.InvalidParameter($"compression level {spec.CompressionLevel} is not 1-9"));
        string prefix = Field("prefix", () => BundlePrefix.Resolve(spec.Prefix, spec.ImagePath));

        using X509Certificate2 userCert = Field("userCertificate", () => KeyFiles.LoadCertificate(spec.UserCertificatePath, "user certificate",
            f => AllowedRoots.RequireOpened(f, keyRoots, "user certificate")));
        using X509Certificate2 cloudCert = Field("cloudCertificate", () => KeyFiles.LoadCertificate(spec.CloudCertificatePath, "cloud certificate",
            f => AllowedRoots.RequireOpened(f, keyRoots, "cloud certificate")));
        string privateKeyVersion = "";
        using RSA privateKey = Field("privateKey", () => KeyFiles.LoadPrivateKey(spec.PrivateKeyPath, f =>
        {
            AllowedRoots.RequireOpened(f, keyRoots, "private key");
            privateKeyVersion = f.Identity.ToString();
        }));
        Field("privateKey", () => RequireMatchingPair(userCert, privateKey, spec));

        ImageSlicePlan plan;
        OpenedImage opened;
        try
        {
            opened = await OpenConfinedImageAsync(spec, options, ct);
        }
        catch (BundleException ex)
        {
            throw new JobValidationException("image", ex);
        }

        await using (opened.Reader)
        {
            var layout = new TarStreamLayout(prefix, opened.Reader.Length, opened.MtimeUnixSeconds);
            SlicePlan slices = Field("sliceSize", () => SlicePlan.For(layout.Length, spec.SliceSize));
            string imagePath = Storage.StorageLocation.From(spec.ImagePath) is Storage.FileLocation file ? Path.GetFullPath(file.Path) : spec.ImagePath;
            plan = new ImageSlicePlan(jobId, imagePath, opened.Version, prefix, opened.Reader.Length,
                opened.MtimeUnixSeconds, layout.Length, slices.SliceSize, spec.CompressionLevel, spec.S3);
        }

        try
        {
            if (spec.CreateDestination && Storage.StorageLocation.From(spec.Destination) is Storage.FileLocation dated)
            {
                CreateLastDirectory(dated.Path);
            }

            await sink.PrepareAsync(prefix, spec.Overwrite, ct);
        }
        catch (BundleException ex)
        {
            throw new JobValidationException("destination", ex);
        }

        using BundleKey key = BundleKey.Generate();
        return new Prepared(plan, WrappedBundleKey.Wrap(key, userCert, cloudCert), prefix, privateKeyVersion,
            spec.Baseline is { } baseline ? BaselineRefusal(baseline, spec.Allowance, options) : null);
    }

    /// <summary>
    /// A night's own directory (<c>…/web/2026-12-04</c>): made if its parent exists — one level, not a path of them, and
    /// only after the destination passed the confinement check; the sink then checks it like any destination.
    /// </summary>
    private static void CreateLastDirectory(string path)
    {
        string full = Path.GetFullPath(path);
        if (!Directory.Exists(full) && !File.Exists(full) && Path.GetDirectoryName(full) is { } parent && Directory.Exists(parent))
        {
            Directory.CreateDirectory(full);
        }
    }

    /// <summary>
    /// Opens the spec's image as jobs may: inside the silo's confinement and the tenant's images, checked by name and
    /// again as opened (the path the kernel resolved).
    /// </summary>
    public static Task<OpenedImage> OpenConfinedImageAsync(BundleJobSpec spec, BundleClusterOptions options, CancellationToken ct)
    {
        RequireAllowed(spec.ImagePath, spec.Allowance?.Images, options, "image");
        IReadOnlyCollection<string> tenantImageRoots = spec.Allowance is null ? [] : Confinement.Of(spec.Allowance.Images).Roots;
        return ImageReaders.OpenAsync(spec.ImagePath, Pipeline.PlanExtensions.Settings(spec.S3), null, ct, f =>
        {
            AllowedRoots.RequireOpened(f, options.AllowedRoots, "image");
            AllowedRoots.RequireOpened(f, tenantImageRoots, "image");
        });
    }

    /// <summary>
    /// A baseline is read like an image: it must lie inside the silo's confinement and, for a tenant's job, inside the
    /// tenant's images or destinations (last night's bundle is usually one of its destinations). Outside, the job is
    /// built in full with a warning — a baseline only ever makes a job cheaper — and the baseline is never opened.
    /// </summary>
    private static string? BaselineRefusal(string baseline, TenantAllowance? allowance, BundleClusterOptions options)
    {
        try
        {
            options.Confinement().Require(baseline, "baseline");
            if (allowance is not null)
            {
                Confinement tenant = Confinement.Of([.. allowance.Images, .. allowance.Destinations]);
                if (!tenant.IsConfined)
                {
                    throw BundleException.InvalidParameter("the job's tenant may read no location at all");
                }

                tenant.Require(baseline, "baseline");
            }

            return null;
        }
        catch (BundleException ex)
        {
            return Pipeline.BaselineReuse.NotUsed(baseline, ex.Message);
        }
    }

    /// <summary>
    /// The spec with a named signing identity turned into its three files under the silo's identity root. The name is
    /// one path segment of safe characters, so it can never lead out of the root.
    /// </summary>
    public static BundleJobSpec WithIdentity(BundleJobSpec spec, BundleClusterOptions options)
    {
        if (spec.Identity is not { } name)
        {
            return spec;
        }

        return Field("identity", () =>
        {
            if (name.Length is 0 or > 64 || name is "." or ".." || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                throw BundleException.InvalidParameter($"identity '{name}' is not a name (1-64 letters, digits, '-', '_' or '.')");
            }

            string root = options.IdentityRoot
                ?? throw BundleException.InvalidParameter($"identity '{name}' cannot be used: this cluster has no identity root (bundle-silo --identity-root)");
            string directory = Path.Combine(root, name);
            return Directory.Exists(directory)
                ? spec with
                {
                    UserCertificatePath = Path.Combine(directory, "cert.pem"),
                    PrivateKeyPath = Path.Combine(directory, "pk.pem"),
                    CloudCertificatePath = Path.Combine(directory, "cloud-cert.pem"),
                }
                : throw new BundleException(BundleErrorKind.FileNotFound, $"identity '{name}' does not exist on this cluster");
        });
    }

    /// <summary>The silo's confinement, then the tenant's (when the job has one: an empty list there allows nothing).</summary>
    private static bool RequireAllowed(string location, IReadOnlyList<string>? tenantEntries, BundleClusterOptions options, string what)
    {
        options.Confinement().Require(location, what);
        if (tenantEntries is not null)
        {
            Confinement tenant = Confinement.Of(tenantEntries);
            if (!tenant.IsConfined)
            {
                throw BundleException.InvalidParameter($"the job's tenant may use no {what} location at all");
            }

            tenant.Require(location, what);
        }

        return true;
    }

    private static bool RequireMatchingPair(X509Certificate2 cert, RSA privateKey, BundleJobSpec spec)
    {
        using RSA? publicKey = cert.GetRSAPublicKey();
        byte[] certModulus = publicKey!.ExportParameters(false).Modulus!;
        byte[] keyModulus = privateKey.ExportParameters(false).Modulus!;
        return certModulus.AsSpan().SequenceEqual(keyModulus)
            ? true
            : throw new BundleException(BundleErrorKind.KeyMismatch,
                $"private key '{spec.PrivateKeyPath}' does not belong to certificate '{spec.UserCertificatePath}'; the manifest would not verify");
    }

    private static T Field<T>(string field, Func<T> check)
    {
        try
        {
            return check();
        }
        catch (BundleException ex)
        {
            throw new JobValidationException(field, ex);
        }
    }
}
