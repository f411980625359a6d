using System.Diagnostics;

namespace BundleCluster.TestSupport;

/// <summary>
/// A server process a test starts (a silo, an OTLP backend): its stdout and stderr collected into one log, a wait for
/// the line that says it is up, and a kill of its whole tree on dispose (always reaped).
/// </summary>
public sealed class LoggedProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringWriter _log = new();

    public LoggedProcess(ProcessStartInfo psi)
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        _process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {psi.FileName}");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public bool HasExited => _process.HasExited;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Waits until the log contains <paramref name="startedLine"/>; fails with the log if the process exits or time runs out.</summary>
    public async Task WaitForLogAsync(string startedLine, string what, TimeSpan within)
    {
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < within && !_process.HasExited; await Task.Delay(100))
        {
            if (Log.Contains(startedLine, StringComparison.Ordinal))
            {
                return;
            }
        }

        throw new Xunit.Sdk.XunitException($"{what} did not start:\n{Log}");
    }

    /// <summary>SIGKILL to the whole tree: a crash, no goodbye.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Sends a signal ("TERM", "INT") with kill(1): a graceful stop, as a pod's kubelet sends it.</summary>
    public void Signal(string name) => SendSignal(_process, name);

    /// <summary>kill(1) -s NAME PID, as a supervisor signals a process; shared by every process wrapper of the tests.</summary>
    public static void SendSignal(Process process, string name)
    {
        using Process kill = Process.Start("kill", ["-s", name, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    /// <summary>The exit code once the process has exited; fails (with the log) if it has not within <paramref name="within"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"the process did not exit within {within.TotalSeconds} s:\n{Log}");
        }

        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.WaitForExit(10_000);
        _process.Dispose();
    }

    private void Append(string? line)
    {
        lock (_log)
        {
            _log.WriteLine(line);
        }
    }
}
