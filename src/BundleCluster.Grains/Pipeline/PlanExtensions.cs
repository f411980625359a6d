using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Format.Bundling;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Tar;
using BundleCluster.Storage.Sources;

namespace BundleCluster.Grains.Pipeline;

/// <summary>Rebuilds, on any silo, what a plan describes.</summary>
internal static class PlanExtensions
{
    public static TarStreamLayout Layout(this ImageSlicePlan plan) =>
        new(plan.MemberName, plan.ImageSize, plan.MtimeUnixSeconds);

    public static SlicePlan Slices(this ImageSlicePlan plan) => new(plan.TarLength, plan.SliceSize);

    /// <summary>Opens the image (file or s3://), failing if it is no longer the version the job planned against.</summary>
    public static async Task<BundleCluster.Format.IImageReader> OpenImageAsync(this ImageSlicePlan plan, CancellationToken ct) =>
        (await ImageReaders.OpenAsync(plan.ImagePath, Settings(plan.S3), plan.ImageVersion, ct)).Reader;

    public static Storage.S3.S3Settings? Settings(Abstractions.Jobs.S3Options? s3) =>
        s3 is null ? null : new Storage.S3.S3Settings(s3.EndpointUrl, s3.Region, s3.Acl, s3.PlainBodies);

    /// <summary>Opens the sink a job's destination names, with its S3 settings if any; its work runs off the grain's turn.</summary>
    public static Storage.Sinks.IBundleSink OpenSink(string destination, string jobId, Abstractions.Jobs.S3Options? s3,
        Hosting.BundleClusterOptions options) =>
        new OffTurnBundleSink(Storage.Sinks.BundleSinks.Open(destination, jobId, Settings(s3), !options.JobsOutliveProcess));

    /// <summary>The error kind reported for an exception: the BundleException kind, or Failed.</summary>
    public static JobErrorKind ErrorKind(this Exception ex) => ex switch
    {
        BundleException b => b.Kind.ToJobErrorKind(),
        Jobs.JobValidationException v => v.Kind.ToJobErrorKind(),
        _ => JobErrorKind.Failed,
    };

    /// <summary>The one mapping from the format library's error kinds to the job contract's.</summary>
    public static JobErrorKind ToJobErrorKind(this BundleErrorKind kind) => kind switch
    {
        BundleErrorKind.InvalidParameter => JobErrorKind.InvalidParameter,
        BundleErrorKind.FileNotFound => JobErrorKind.FileNotFound,
        BundleErrorKind.InvalidBundle => JobErrorKind.InvalidBundle,
        BundleErrorKind.KeyMismatch => JobErrorKind.KeyMismatch,
        BundleErrorKind.Failed => JobErrorKind.Failed,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unmapped error kind"),
    };

    /// <summary>One line for the user: the BundleException message as-is, or the exception type and message.</summary>
    public static string UserMessage(this Exception ex) =>
        ex is BundleException or Jobs.JobValidationException ? ex.Message : $"{ex.GetType().Name}: {ex.Message}";
}
