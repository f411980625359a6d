using System.Diagnostics;

namespace BundleCluster.TestSupport;

/// <summary>Runs a real tool (openssl, gzip, tar, bash) and returns its exit code and output.</summary>
public static class ExternalTool
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static Result Run(string file, IEnumerable<string> args, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(), // never depend on the test host's current directory
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish");
        }

        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs a bash script; the test fails with the script's stderr if it exits non-zero.</summary>
    public static string Bash(string script, string? workingDirectory = null)
    {
        Result r = Run("bash", ["-euo", "pipefail", "-c", script], workingDirectory);
        if (r.ExitCode != 0)
        {
            throw new Xunit.Sdk.XunitException($"bash failed ({r.ExitCode}): {script}\n{r.StdErr}");
        }

        return r.StdOut;
    }
}
