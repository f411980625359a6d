using System.Diagnostics;
using System.Text;

namespace BundleCluster.TestSupport;

/// <summary>
/// bundlectl as a separate process (the CLI project's own build output), for what an in-process run cannot show:
/// signals, a hang that must be killed, a crash. Every wait is bounded; a process still running at dispose is killed.
/// </summary>
public sealed class BundleCtlProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private BundleCtlProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (_stdout) { _stdout.AppendLine(e.Data); } } };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (_stderr) { _stderr.AppendLine(e.Data); } } };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static BundleCtlProcess Start(params string[] args) => Start(new Dictionary<string, string>(), args);

    /// <param name="environment">Extra environment (OTEL_*, TRACEPARENT, BUNDLECLUSTER_JIT_PROFILE_DIR).</param>
    public static BundleCtlProcess Start(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        // A command started in the background by a non-interactive shell (CI, `cmd &`) inherits SIGINT ignored, and a
        // process cannot catch a signal ignored since it started. Reset it to the default, then exec bundlectl (same pid).
        var psi = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])");
        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(RepositoryPaths.CliDll);
        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        // No start-up JIT profile in the user's cache from tests, unless the test is about it (StartupJitProfileTests).
        psi.Environment["BUNDLECLUSTER_JIT_PROFILE_DIR"] = "off";
        foreach ((string name, string value) in environment)
        {
            psi.Environment[name] = value;
        }

        return new BundleCtlProcess(Process.Start(psi) ?? throw new InvalidOperationException("cannot start bundlectl"));
    }

    public string StdErr { get { lock (_stderr) { return _stderr.ToString(); } } }

    public string StdOut { get { lock (_stdout) { return _stdout.ToString(); } } }

    public bool HasExited => _process.HasExited;

    /// <summary>Sends a signal ("INT", "TERM", "KILL") with kill(1).</summary>
    public void Signal(string name) => LoggedProcess.SendSignal(_process, name);

    /// <summary>The exit code; fails the test (and kills the process) if it has not exited within <paramref name="timeout"/>.</summary>
    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"bundlectl did not exit within {timeout.TotalSeconds} s (a hang); stderr: {StdErr}");
        }

        _process.WaitForExit(); // drains the output readers
        return _process.ExitCode;
    }

    /// <summary>Waits until <paramref name="condition"/> holds, or fails after <paramref name="timeout"/>.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout || _process.HasExited)
            {
                throw new Xunit.Sdk.XunitException($"{what} did not happen (exited: {_process.HasExited}); stderr: {StdErr}");
            }

            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}

/// <summary>Runs bundlectl to completion in a child process and reports its peak resident memory (getrusage).</summary>
public static class BundleCtlMemory
{
    public sealed record Result(int ExitCode, string StdErr, long PeakBytes);

    public static Result Run(params string[] args)
    {
        const string measure = "import os, resource, subprocess, sys\n" +
                               "env = dict(os.environ, BUNDLECLUSTER_JIT_PROFILE_DIR='off')\n" +
                               "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120, env=env)\n" +
                               "sys.stderr.write(p.stderr.decode())\n" +
                               "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)";
        ExternalTool.Result run = ExternalTool.Run("python3",
            ["-c", measure, "dotnet", RepositoryPaths.CliDll, .. args], timeout: TimeSpan.FromMinutes(3));
        string[] fields = run.StdOut.Trim().Split(' ');
        return new Result(int.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture), run.StdErr,
            long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) * 1024);
    }
}
