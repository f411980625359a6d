using System.Runtime.InteropServices;

namespace BundleCluster.Cli;

/// <summary>
/// Ctrl+C (SIGINT) and SIGTERM for a command that does its work in this process: the first one cancels the command's
/// token, so it stops, removes what it wrote and exits 255 ("interrupted"); a second one is left to the operating
/// system's default action and ends the process at once. One place owns the signals: the embedded silo's host does
/// not listen to them (see EmbeddedCluster), and System.CommandLine's own handler is off.
/// </summary>
internal sealed class InterruptSignals : IDisposable
{
    private readonly CancellationTokenSource _interrupted = new();
    private readonly TextWriter _error;
    private readonly PosixSignalRegistration[] _registrations;
    private int _signals;

    public InterruptSignals(TextWriter error)
    {
        _error = error;
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
        ];
    }

    public CancellationToken Token => _interrupted.Token;

    private void OnSignal(PosixSignalContext context)
    {
        if (Interlocked.Increment(ref _signals) > 1)
        {
            return; // the second signal: the default action terminates the process now
        }

        context.Cancel = true;
        _error.WriteLine($"bundlectl: {context.Signal} received: stopping and cleaning up (send it again to quit at once)");
        // Cancellation callbacks run user code; keep them off the runtime's signal-handling thread.
        _ = Task.Run(_interrupted.Cancel);
    }

    public void Dispose()
    {
        foreach (PosixSignalRegistration registration in _registrations)
        {
            registration.Dispose();
        }

        _interrupted.Dispose();
    }
}
