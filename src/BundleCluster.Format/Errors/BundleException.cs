namespace BundleCluster.Format.Errors;

/// <summary>What kind of mistake a <see cref="BundleException"/> reports; the CLI maps it to an exit code.</summary>
public enum BundleErrorKind
{
    /// <summary>A parameter the user gave is invalid (ec2-ami-tools exit code 1).</summary>
    InvalidParameter,

    /// <summary>A file the user named does not exist (ec2-ami-tools exit code 2).</summary>
    FileNotFound,

    /// <summary>A bundle, manifest or tar stream is malformed, corrupt or does not match its manifest.</summary>
    InvalidBundle,

    /// <summary>A key or certificate cannot be used (wrong key, unreadable PEM, refused algorithm).</summary>
    KeyMismatch,

    /// <summary>Anything else that stops the job (I/O failure, image changed while bundling).</summary>
    Failed,
}

/// <summary>
/// An error a user can cause or fix. Its message is one complete sentence meant to be printed as-is on one line.
/// </summary>
public sealed class BundleException : Exception
{
    public BundleException(BundleErrorKind kind, string message, Exception? inner = null)
        : base(message, inner) => Kind = kind;

    public BundleErrorKind Kind { get; }

    public static BundleException InvalidBundle(string message) => new(BundleErrorKind.InvalidBundle, message);

    public static BundleException InvalidParameter(string message) => new(BundleErrorKind.InvalidParameter, message);
}
