using System.Diagnostics;

namespace BundleCluster.Deploy.Tests;

/// <summary>Runs the real tools these tests drive (kubectl, docker, docker-compose, node) and fails with their output.</summary>
internal static class Commands
{
    /// <summary>Standard output of <paramref name="file"/>; a non-zero exit fails the test with both outputs.</summary>
    public static string Run(string file, IEnumerable<string> args, string? stdin = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null };
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }

        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(psi)!;
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new Xunit.Sdk.XunitException($"{file} {string.Join(' ', psi.ArgumentList)} exited {process.ExitCode}:\n{stdout}\n{stderr.Result}");
        }

        return stdout;
    }
}
