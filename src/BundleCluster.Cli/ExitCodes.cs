using BundleCluster.Format.Errors;

namespace BundleCluster.Cli;

/// <summary>The exit codes of ec2-ami-tools (tool_base.rb), which scripts around those tools already test for.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int BadParameters = 1;
    public const int FileNotFound = 2;
    public const int Other = 254;
    public const int Interrupted = 255;

    public static int For(BundleErrorKind kind) => kind switch
    {
        BundleErrorKind.InvalidParameter => BadParameters,
        BundleErrorKind.FileNotFound => FileNotFound,
        _ => Other,
    };

    public static int For(Abstractions.Jobs.JobErrorKind? kind) => kind switch
    {
        Abstractions.Jobs.JobErrorKind.InvalidParameter => BadParameters,
        Abstractions.Jobs.JobErrorKind.FileNotFound => FileNotFound,
        _ => Other,
    };
}
