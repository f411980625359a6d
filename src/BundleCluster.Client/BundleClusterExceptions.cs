using BundleCluster.Abstractions.Jobs;

namespace BundleCluster.Client;

/// <summary>Base of the errors the SDK raises; <see cref="ErrorKind"/> names the kind (InvalidParameter, FileNotFound, …).</summary>
public class BundleClusterException(string message, JobErrorKind errorKind, Exception? inner = null) : Exception(message, inner)
{
    public JobErrorKind ErrorKind { get; } = errorKind;
}

/// <summary>The job spec was refused before any work started; <see cref="Field"/> names the input that is wrong.</summary>
public sealed class BundleJobValidationException(string field, string message, JobErrorKind errorKind)
    : BundleClusterException(message, errorKind)
{
    public string Field { get; } = field;
}

/// <summary>No job with this id was ever submitted.</summary>
public sealed class UnknownBundleJobException(string jobId)
    : BundleClusterException($"no bundle job has id '{jobId}'", JobErrorKind.InvalidParameter)
{
    public string JobId { get; } = jobId;
}

/// <summary>The job ran and failed (or was cancelled); <see cref="Status"/> says why.</summary>
public sealed class BundleJobFailedException(BundleJobStatus status)
    : BundleClusterException(status.Error ?? $"job {status.JobId} ended {status.State}", status.ErrorKind ?? JobErrorKind.Failed)
{
    public BundleJobStatus Status { get; } = status;
}
