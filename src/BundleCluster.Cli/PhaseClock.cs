using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace BundleCluster.Cli;

/// <summary>
/// Splits a run's wall time into named phases, the first measured from the start of the process (so it includes the
/// runtime's own start). bundle-image's <c>--timings</c> prints it; bench/run.sh reads it.
/// </summary>
internal sealed class PhaseClock
{
    private readonly DateTime _processStart = ProcessStart();
    private readonly List<(string Phase, TimeSpan Ended)> _phases = [];

    private static DateTime ProcessStart()
    {
        using var self = Process.GetCurrentProcess();
        return self.StartTime.ToUniversalTime();
    }

    /// <summary>Ends the current phase under <paramref name="phase"/>; the next one starts now.</summary>
    public void Mark(string phase) => _phases.Add((phase, DateTime.UtcNow - _processStart));

    /// <summary>For example <c>start-up 0.52 s, job 0.24 s, shutdown 0.06 s, total 0.82 s</c>.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        TimeSpan previous = TimeSpan.Zero;
        foreach ((string phase, TimeSpan ended) in _phases)
        {
            text.Append(CultureInfo.InvariantCulture, $"{phase} {(ended - previous).TotalSeconds:0.000} s, ");
            previous = ended;
        }

        return text.Append(CultureInfo.InvariantCulture, $"total {previous.TotalSeconds:0.000} s").ToString();
    }
}
