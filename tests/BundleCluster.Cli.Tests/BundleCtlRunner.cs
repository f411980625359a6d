namespace BundleCluster.Cli.Tests;

/// <summary>Runs bundlectl in-process, as the shell would, capturing stdout, stderr and the exit code.</summary>
internal static class BundleCtlRunner
{
    public sealed record Outcome(int ExitCode, string StdOut, string StdErr)
    {
        public string[] ErrorLines => StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public static async Task<Outcome> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exitCode = await BundleCtl.RunAsync(args, output, error);
        return new Outcome(exitCode, output.ToString(), error.ToString());
    }
}
