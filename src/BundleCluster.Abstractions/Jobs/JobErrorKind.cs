namespace BundleCluster.Abstractions.Jobs;

/// <summary>
/// Why a job failed, as clients branch on it (bundlectl maps it to ec2-ami-tools' exit codes). It mirrors the format
/// library's <c>BundleErrorKind</c>, which has no Orleans dependency; the grains map one to the other in one place.
/// </summary>
[GenerateSerializer, Alias("bc.JobErrorKind")]
public enum JobErrorKind
{
    /// <summary>A parameter of the job is invalid; <see cref="BundleJobStatus.ErrorField"/> names it when known.</summary>
    InvalidParameter,

    /// <summary>A file the job names does not exist.</summary>
    FileNotFound,

    /// <summary>A bundle, manifest or tar stream is malformed or does not match.</summary>
    InvalidBundle,

    /// <summary>A key or certificate cannot be used.</summary>
    KeyMismatch,

    /// <summary>The job queue refused the job: its tenant already has as many jobs waiting as it may.</summary>
    QuotaExceeded,

    /// <summary>Anything else that stopped the job (I/O failure, the image changed while bundling, a lost stage).</summary>
    Failed,
}

/// <summary>The stages of a job's pipeline, as failures and spans name them.</summary>
[GenerateSerializer, Alias("bc.PipelineStage")]
public enum PipelineStage
{
    Prepare,
    Digest,
    Seal,
    Commit,
}
