using System.CommandLine;
using BundleCluster.Format.Errors;

namespace BundleCluster.Cli.Commands;

/// <summary>Option helpers: values from the command line, else from the environment variables the original tools read.</summary>
internal static class CliOptions
{
    public static Option<string> Text(string name, string alias, string description, bool required = false) =>
        alias.Length == 0
            ? new Option<string>(name) { Description = description, Required = required }
            : new Option<string>(name, alias) { Description = description, Required = required };

    /// <summary>The option's value, or the first environment variable that is set, or a clear error naming both.</summary>
    public static string Require(ParseResult parsed, Option<string> option, params string[] environment) =>
        Optional(parsed, option, environment)
        ?? throw BundleException.InvalidParameter(
            $"{option.Name} is required" + (environment.Length > 0 ? $" (or set {string.Join(" or ", environment)})" : ""));

    public static string? Optional(ParseResult parsed, Option<string> option, params string[] environment)
    {
        string? value = parsed.GetValue(option);
        if (!string.IsNullOrWhiteSpace(value))
        {
            return value;
        }

        foreach (string variable in environment)
        {
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } fromEnvironment)
            {
                return fromEnvironment;
            }
        }

        return null;
    }

    public static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.0} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.0} KiB",
        _ => $"{bytes} bytes",
    };
}
